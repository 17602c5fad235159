const ERROR_SHAPE_KEYS = ['code', 'details', 'error', 'message', 'statusCode'];

/** Asserts the one error shape: the four fields always, details only as an extra, and nothing of the server's insides. */
export function expectErrorShape(responseBody: unknown, statusCode: number, code?: string): void {
  const body = responseBody as Record<string, unknown>;
  expect(body).toMatchObject({
    statusCode,
    error: expect.any(String) as unknown,
    message: expect.any(String) as unknown,
    code: code ?? (expect.stringMatching(/^[a-z_]+$/) as unknown),
  });
  expect((body.message as string).length).toBeGreaterThan(0);
  expect(Object.keys(body).filter((key) => !ERROR_SHAPE_KEYS.includes(key))).toEqual([]);
  expect(JSON.stringify(body)).not.toMatch(/\bat .+:\d+:\d+|\.ts:\d+|node_modules|stack/i);
}
