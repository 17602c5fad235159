import { withTimeout } from './with-timeout';

describe('withTimeout', () => {
  it("gives the work's value when it settles in time", async () => {
    await expect(withTimeout(Promise.resolve('done'), 1000, () => 'late')).resolves.toBe('done');
  });

  it("gives the work's error when it fails in time", async () => {
    await expect(withTimeout(Promise.reject(new Error('broken')), 1000, () => 'late')).rejects.toThrow('broken');
  });

  it("gives onTimeout's value once the time has passed", async () => {
    await expect(withTimeout(new Promise(() => undefined), 10, () => 'late')).resolves.toBe('late');
  });

  it('rejects with what onTimeout throws', async () => {
    const late = withTimeout(new Promise(() => undefined), 10, () => {
      throw new Error('no answer within 10 ms');
    });
    await expect(late).rejects.toThrow('no answer within 10 ms');
  });
});
