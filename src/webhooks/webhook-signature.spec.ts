import { newWebhookSecret, signWebhook } from './webhook-signature';

describe('webhook signatures', () => {
  it('match the example of the Standard Webhooks reference libraries', () => {
    expect(signWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe(
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    );
  });

  it('change with the id, the timestamp and the body', () => {
    const secret = newWebhookSecret();
    const signature = signWebhook(secret, 'a', 1, '{}');
    expect([signWebhook(secret, 'b', 1, '{}'), signWebhook(secret, 'a', 2, '{}'), signWebhook(secret, 'a', 1, '{ }')]).not.toContain(
      signature,
    );
  });

  it('use secrets of 32 random bytes', () => {
    const secrets = [newWebhookSecret(), newWebhookSecret()];
    expect(secrets[0]).not.toBe(secrets[1]);
    expect(Buffer.from(secrets[0]!.slice('whsec_'.length), 'base64')).toHaveLength(32);
  });
});
