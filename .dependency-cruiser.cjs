/**
 * The layering rules (`npm run lint` runs them): what each part of src/ may not know about.
 * Checked on resolved files, type-only imports included.
 */
module.exports = {
  forbidden: [
    {
      name: 'operations-know-no-queue-or-http',
      comment:
        'Operations turn content into results, in worker processes, from whoever calls them: they know nothing of BullMQ, of the worker, ' +
        'of the HTTP layer or of cross-process notifications (HTTP exceptions from @nestjs/common are refused by ESLint).',
      severity: 'error',
      from: { path: '^src/operations/' },
      to: {
        path: [
          '^src/(queue|worker|processing|events|edge|rate-limits|access)/',
          '[.]controller[.]ts$',
          '^node_modules/(bullmq|fastify|@fastify/[^/]+|@nestjs/platform-fastify|@nestjs/swagger|@bull-board/[^/]+)/',
        ],
      },
    },
    {
      name: 'storage-knows-no-objects',
      comment: 'The S3 adapter stores bytes under keys; what an object is belongs to src/objects.',
      severity: 'error',
      from: { path: '^src/storage/' },
      to: { path: '^src/objects/' },
    },
    {
      name: 'common-holds-no-domain',
      comment: 'src/common is shared by every part, so it may use no part that holds the domain.',
      severity: 'error',
      from: { path: '^src/common/' },
      to: {
        path: '^src/(access|objects|processing|operations|worker|queue|webhooks|retention|events|storage|rate-limits|health|metrics|ui)/',
      },
    },
    {
      name: 'worker-process-loads-no-api',
      comment:
        'A worker-only process loads bootstrap, AppModule and the worker role (main.ts imports a role only when it runs it): ' +
        "nothing they reach may be the API's own (its controllers, uploads, rate limits, docs, dashboard), so that none of it is in a worker's memory.",
      severity: 'error',
      from: { path: '^src/(bootstrap|app[.]module|worker-role)[.]ts$' },
      to: {
        path: [
          '^src/api-role[.]ts$',
          '^src/(ui|rate-limits)/',
          '^src/processing/processing[.]module[.]ts$',
          '^src/[^/]+/[^/]+-api[.]module[.]ts$',
          '^src/(?!health/|metrics/)[^/]+/[^/]+[.]controller[.]ts$',
          '^src/queue/bull-board[.]ts$',
          '^src/openapi',
          '^node_modules/(@fastify/multipart|@fastify/rate-limit|@bull-board/[^/]+)/',
        ],
        reachable: true,
      },
    },
    {
      name: 'only-operation-processes-load-operations',
      comment:
        'Operations and the libraries they use are loaded by operation processes only (src/worker/operation-process.ts): ' +
        'the API and the worker plan with the catalog (src/operations/operation-catalog.ts).',
      severity: 'error',
      from: { path: '^src/(bootstrap|app[.]module|api-role|worker-role)[.]ts$' },
      to: {
        path: [
          '^src/operations/(operations[.]module|[^/]+[.]operation)[.]ts$',
          '^node_modules/(sharp|csv-parse|stream-json|stream-chain)/',
        ],
        reachable: true,
      },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
