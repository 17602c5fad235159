'use strict';
// `npm run openapi:export`: writes the OpenAPI document the service serves at /docs/json to
// openapi/openapi.json (the committed contract) and the TypeScript types generated from it by
// openapi-typescript to test/support/api-types.ts (the typed client's types).
// test/openapi-contract.e2e-spec.ts fails when either differs from what the code produces.
// Runs on the build output (npm run build) and needs no PostgreSQL, Redis or S3.
const { spawnSync } = require('node:child_process');
const { mkdirSync, writeFileSync } = require('node:fs');
const { dirname, join, relative } = require('node:path');

const ROOT = join(__dirname, '..');
const CONTRACT_PATH = join(ROOT, 'openapi', 'openapi.json');
const TYPES_PATH = join(ROOT, 'test', 'support', 'api-types.ts');

/** The document, as the running service would serve it, with a trailing newline. */
async function renderContract() {
  require('reflect-metadata');
  const { exportOpenApiDocument } = require(join(ROOT, 'dist', 'src', 'openapi-export'));
  const document = await exportOpenApiDocument();
  return `${JSON.stringify(document, null, 2)}\n`;
}

/** The TypeScript types openapi-typescript generates, with its default options, from the contract at `contractPath`. */
function renderTypes(contractPath = CONTRACT_PATH) {
  const cli = join(ROOT, 'node_modules', 'openapi-typescript', 'bin', 'cli.js');
  const result = spawnSync(process.execPath, [cli, contractPath], { cwd: ROOT, encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`openapi-typescript failed (exit ${result.status}): ${result.stderr}`);
  }
  return result.stdout;
}

async function main() {
  const contract = await renderContract();
  mkdirSync(dirname(CONTRACT_PATH), { recursive: true });
  writeFileSync(CONTRACT_PATH, contract);
  console.log(`Wrote ${relative(process.cwd(), CONTRACT_PATH)} (${Object.keys(JSON.parse(contract).paths).length} paths)`);
  writeFileSync(TYPES_PATH, renderTypes(CONTRACT_PATH));
  console.log(`Wrote ${relative(process.cwd(), TYPES_PATH)}`);
}

module.exports = { CONTRACT_PATH, TYPES_PATH, renderTypes };

if (require.main === module) {
  main().catch((error) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  });
}
