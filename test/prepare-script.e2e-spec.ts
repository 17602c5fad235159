import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PREPARE = join(__dirname, '..', 'scripts', 'prepare.sh');

/** Stands in for npm: records each call, and leaves what a real install or build leaves behind. */
const FAKE_NPM = `#!/bin/sh
echo "$*" >> "$NPM_CALLS"
case "$1" in
  install) mkdir -p node_modules && echo '{}' > node_modules/.package-lock.json ;;
  run) mkdir -p dist/src && echo 'built' > dist/src/main.js ;;
esac
`;

/**
 * scripts/prepare.sh (run by `npm start` and `npm test`) in a project of its own, with npm replaced by a
 * recorder: which installs and builds does it ask for?
 */
describe('npm start prepares only what changed (scripts/prepare.sh)', () => {
  let project: string;

  /** File times are set explicitly, whatever the file system's resolution: after each run everything is older than a change. */
  const secondsAgo = (seconds: number) => Date.now() / 1000 - seconds;

  function ageEverything(): void {
    const past = secondsAgo(100);
    for (const entry of readdirSync(project, { recursive: true, encoding: 'utf8' })) {
      utimesSync(join(project, entry), past, past);
    }
  }

  function change(path: string): void {
    utimesSync(join(project, path), secondsAgo(50), secondsAgo(50));
  }

  function run(): string[] {
    const calls = join(project, 'npm-calls.log');
    writeFileSync(calls, '');
    execFileSync('sh', [join(project, 'scripts', 'prepare.sh')], {
      env: { ...process.env, PATH: `${join(project, 'bin')}:${process.env.PATH}`, NPM_CALLS: calls },
      stdio: 'pipe',
    });
    const made = readFileSync(calls, 'utf8').split('\n').filter(Boolean);
    ageEverything();
    return made;
  }

  beforeEach(() => {
    project = mkdtempSync(join(tmpdir(), 'ops-prepare-'));
    for (const directory of ['scripts', 'bin', 'src/objects', 'migrations']) {
      mkdirSync(join(project, directory), { recursive: true });
    }
    copyFileSync(PREPARE, join(project, 'scripts', 'prepare.sh'));
    writeFileSync(join(project, 'bin', 'npm'), FAKE_NPM, { mode: 0o755 });
    for (const file of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'nest-cli.json']) {
      writeFileSync(join(project, file), '{}');
    }
    writeFileSync(join(project, 'src', 'main.ts'), '');
    writeFileSync(join(project, 'src', 'objects', 'entity.ts'), '');
    writeFileSync(join(project, 'migrations', 'index.ts'), '');
    ageEverything();
  });

  afterEach(() => {
    rmSync(project, { recursive: true, force: true });
  });

  it('installs and builds a fresh clone, then does nothing while nothing changes', () => {
    expect(run()).toEqual(['install --no-audit --no-fund --loglevel=error', 'run --silent build']);
    expect(run()).toEqual([]);
    expect(run()).toEqual([]);
  });

  it('builds again after a source file changes, and only builds', () => {
    run();
    change('src/objects/entity.ts');
    expect(run()).toEqual(['run --silent build']);
    expect(run()).toEqual([]);
  });

  it('builds again after a source file is deleted, or a migration changes', () => {
    run();
    unlinkSync(join(project, 'src', 'objects', 'entity.ts'));
    expect(run()).toEqual(['run --silent build']);
    change('migrations/index.ts');
    expect(run()).toEqual(['run --silent build']);
  });

  it('installs (and builds) again after package.json or package-lock.json changes', () => {
    run();
    change('package-lock.json');
    expect(run()).toEqual(['install --no-audit --no-fund --loglevel=error', 'run --silent build']);
    expect(run()).toEqual([]);
    change('package.json');
    expect(run()).toEqual(['install --no-audit --no-fund --loglevel=error', 'run --silent build']);
  });

  it('builds again when the build output is gone', () => {
    run();
    rmSync(join(project, 'dist', 'src', 'main.js'));
    expect(run()).toEqual(['run --silent build']);
  });
});
