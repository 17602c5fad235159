import { AppConfig, ConfigError } from './app-config';

describe('IDEMPOTENCY_KEY_TTL_SECONDS', () => {
  it('is 24 hours unless set', () => {
    expect(new AppConfig({}).idempotencyKeyTtlSeconds).toBe(86400);
    expect(new AppConfig({ IDEMPOTENCY_KEY_TTL_SECONDS: '2' }).idempotencyKeyTtlSeconds).toBe(2);
  });

  it.each(['0', '-5', '1.5', 'a day', String(30 * 86400 + 1)])('refuses %s, naming the variable', (value) => {
    expect(() => new AppConfig({ IDEMPOTENCY_KEY_TTL_SECONDS: value })).toThrow(ConfigError);
    expect(() => new AppConfig({ IDEMPOTENCY_KEY_TTL_SECONDS: value })).toThrow(/IDEMPOTENCY_KEY_TTL_SECONDS/);
  });
});

describe('RATE_LIMIT_REQUESTS, RATE_LIMIT_SUBMISSIONS, RATE_LIMIT_WINDOW_MS', () => {
  it('are 6000 requests and 600 submissions per minute unless set; 0 turns a limit off', () => {
    expect(new AppConfig({}).rateLimits).toEqual({ requests: 6000, submissions: 600, windowMs: 60_000 });
    expect(new AppConfig({ RATE_LIMIT_REQUESTS: '0', RATE_LIMIT_SUBMISSIONS: '5', RATE_LIMIT_WINDOW_MS: '1000' }).rateLimits).toEqual({
      requests: 0,
      submissions: 5,
      windowMs: 1000,
    });
  });

  it.each([
    ['RATE_LIMIT_REQUESTS', '-1'],
    ['RATE_LIMIT_REQUESTS', '1.5'],
    ['RATE_LIMIT_SUBMISSIONS', 'many'],
    ['RATE_LIMIT_WINDOW_MS', '0'],
    ['RATE_LIMIT_WINDOW_MS', '999'],
  ])('refuses %s=%s, naming the variable', (name, value) => {
    expect(() => new AppConfig({ [name]: value })).toThrow(new RegExp(name));
  });
});

describe('CORS_ALLOWED_ORIGINS', () => {
  it('is empty unless set, and holds origins as browsers send them', () => {
    expect(new AppConfig({}).corsAllowedOrigins).toEqual([]);
    expect(new AppConfig({ CORS_ALLOWED_ORIGINS: ' https://App.example.com:443 , http://localhost:3000' }).corsAllowedOrigins).toEqual([
      'https://app.example.com',
      'http://localhost:3000',
    ]);
  });

  it.each(['*', 'app.example.com', 'https://app.example.com/path', 'ftp://files.example.com'])(
    'refuses %s, naming the variable',
    (value) => {
      expect(() => new AppConfig({ CORS_ALLOWED_ORIGINS: value })).toThrow(/CORS_ALLOWED_ORIGINS/);
    },
  );
});

describe('HTTP timeouts', () => {
  it('refuses a header timeout longer than the request timeout', () => {
    expect(() => new AppConfig({ HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '1000' })).toThrow(/HTTP_HEADERS_TIMEOUT_MS/);
  });
});

describe('RETENTION_MAX_AGE_SECONDS, RETENTION_INTERVAL_SECONDS, RETENTION_BATCH_SIZE', () => {
  it('keeps everything unless an age is set; then runs hourly in batches of 100 unless told otherwise', () => {
    expect(new AppConfig({}).retention).toBeUndefined();
    expect(new AppConfig({ RETENTION_MAX_AGE_SECONDS: '0', RETENTION_BATCH_SIZE: '5' }).retention).toBeUndefined();
    expect(new AppConfig({ RETENTION_MAX_AGE_SECONDS: '86400' }).retention).toEqual({
      maxAgeSeconds: 86400,
      intervalSeconds: 3600,
      batchSize: 100,
    });
    expect(
      new AppConfig({ RETENTION_MAX_AGE_SECONDS: '2', RETENTION_INTERVAL_SECONDS: '1', RETENTION_BATCH_SIZE: '1000' }).retention,
    ).toEqual({
      maxAgeSeconds: 2,
      intervalSeconds: 1,
      batchSize: 1000,
    });
  });

  it.each([
    ['RETENTION_MAX_AGE_SECONDS', '-1'],
    ['RETENTION_MAX_AGE_SECONDS', '30 days'],
    ['RETENTION_INTERVAL_SECONDS', '0'],
    ['RETENTION_BATCH_SIZE', '0'],
    ['RETENTION_BATCH_SIZE', '1001'],
  ])('refuses %s=%s, naming the variable', (name, value) => {
    expect(() => new AppConfig({ [name]: value })).toThrow(new RegExp(name));
  });
});
