import { withoutSecrets } from './logging.module';

const TOKEN = `opst_${'x'.repeat(43)}`;
const KEY = `opsk_${'0'.repeat(32)}_${'y'.repeat(43)}`;

describe('withoutSecrets', () => {
  it('leaves URLs without secrets as they are', () => {
    expect(withoutSecrets('/api/v1/objects?limit=20&state=failed')).toBe('/api/v1/objects?limit=20&state=failed');
    expect(withoutSecrets('/api/v1/progress/abc/stream')).toBe('/api/v1/progress/abc/stream');
  });

  it.each([
    [`/api/v1/progress/a/stream?access_token=${TOKEN}`, '/api/v1/progress/a/stream?access_token=[redacted]'],
    [`/api/v1/progress/a/stream?%61ccess_token=${TOKEN}`, '/api/v1/progress/a/stream?access_token=[redacted]'],
    [`/api/v1/progress/a/stream?access%5Ftoken=${TOKEN}&x=1`, '/api/v1/progress/a/stream?access_token=[redacted]&x=1'],
    [`/api/v1/progress/a/stream?t=%6Fpst_${'x'.repeat(43)}`, '/api/v1/progress/a/stream?t=[redacted]'],
    [`/ui?api-key=${KEY}`, '/ui?api-key=[redacted]'],
    [`/api/v1/objects/${KEY}`, '/api/v1/objects/[redacted]'],
    [`/api/v1/objects/opsk%5F${'0'.repeat(32)}`, '/api/v1/objects/[redacted]'],
  ])('redacts %s', (url, logged) => {
    expect(withoutSecrets(url)).toBe(logged);
  });
});
