/**
 * `npm run test:chaos`: the chaos scenarios of test/chaos/, one file each, against the built service
 * (dist/) and dependencies each scenario starts for itself. Not part of `npm test`.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testMatch: ['<rootDir>/test/chaos/**/*.chaos-spec.ts'],
  testTimeout: 600_000,
};
