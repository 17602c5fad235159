import { DestinationRefusal, parseWebhookUrl, refusedKind, resolveDestination } from './webhook-destination';

const NOTHING_ALLOWED = { allowedHosts: [], allowPrivateNetworks: false };

describe('webhook destinations', () => {
  it.each([
    ['127.0.0.1', 'a loopback address'],
    ['127.255.0.9', 'a loopback address'],
    ['::1', 'a loopback address'],
    ['::ffff:127.0.0.1', 'a loopback address'],
    ['::ffff:7f00:1', 'a loopback address'],
    ['10.0.0.1', 'a private network address'],
    ['172.31.255.255', 'a private network address'],
    ['192.168.0.1', 'a private network address'],
    ['100.64.0.1', 'a private network address'],
    ['fd12::1', 'a private network address'],
    ['169.254.1.1', 'a link-local address'],
    ['fe80::1', 'a link-local address'],
    ['169.254.169.254', 'a cloud metadata address'],
    ['fd00:ec2::254', 'a cloud metadata address'],
    ['0.0.0.0', 'an unspecified address'],
    ['::', 'an unspecified address'],
    ['224.0.0.1', 'a multicast or reserved address'],
  ])('refuses %s as %s', (address, kind) => {
    expect(refusedKind(address)).toBe(kind);
  });

  it.each(['93.184.216.34', '172.32.0.1', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8'])('lets %s through', (address) => {
    expect(refusedKind(address)).toBeUndefined();
  });

  it.each(['ftp://example.com/', 'http://user:secret@example.com/', 'example.com/hook', 'file:///etc/passwd'])(
    'refuses the URL %s',
    (url) => {
      expect(() => parseWebhookUrl(url)).toThrow(DestinationRefusal);
    },
  );

  it('checks IP literals without asking DNS, and lets the allowed hosts through', async () => {
    await expect(resolveDestination(new URL('http://[::1]:8080/'), NOTHING_ALLOWED)).rejects.toThrow(
      /'::1' resolves to ::1, a loopback address/,
    );
    await expect(
      resolveDestination(new URL('http://127.0.0.1/'), { allowedHosts: ['127.0.0.1'], allowPrivateNetworks: false }),
    ).resolves.toEqual({ address: '127.0.0.1', family: 4 });
    await expect(resolveDestination(new URL('http://10.0.0.1/'), { allowedHosts: [], allowPrivateNetworks: true })).resolves.toEqual({
      address: '10.0.0.1',
      family: 4,
    });
    await expect(resolveDestination(new URL('http://[::1]/'), { allowedHosts: ['[::1]'], allowPrivateNetworks: false })).resolves.toEqual({
      address: '::1',
      family: 6,
    });
  });
});
