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
