import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/** Why an address is no place for a webhook: each kind is a range list of its own, so a refusal names it. */
const REFUSED_RANGES: { kind: string; ranges: [address: string, prefix: number, family: 'ipv4' | 'ipv6'][] }[] = [
  {
    kind: 'a cloud metadata address',
    ranges: [
      ['169.254.169.254', 32, 'ipv4'],
      ['fd00:ec2::254', 128, 'ipv6'],
    ],
  },
  {
    kind: 'an unspecified address',
    ranges: [
      ['0.0.0.0', 8, 'ipv4'],
      ['::', 128, 'ipv6'],
    ],
  },
  {
    kind: 'a loopback address',
    ranges: [
      ['127.0.0.0', 8, 'ipv4'],
      ['::1', 128, 'ipv6'],
    ],
  },
  {
    kind: 'a private network address',
    ranges: [
      ['10.0.0.0', 8, 'ipv4'],
      ['172.16.0.0', 12, 'ipv4'],
      ['192.168.0.0', 16, 'ipv4'],
      ['100.64.0.0', 10, 'ipv4'],
      ['fc00::', 7, 'ipv6'],
    ],
  },
  {
    kind: 'a link-local address',
    ranges: [
      ['169.254.0.0', 16, 'ipv4'],
      ['fe80::', 10, 'ipv6'],
    ],
  },
  {
    kind: 'a multicast or reserved address',
    ranges: [
      ['224.0.0.0', 3, 'ipv4'],
      ['ff00::', 8, 'ipv6'],
    ],
  },
];

const REFUSED = REFUSED_RANGES.map(({ kind, ranges }) => {
  const list = new BlockList();
  ranges.forEach(([address, prefix, family]) => list.addSubnet(address, prefix, family));
  return { kind, list };
});

export interface DestinationPolicy {
  /** Host names (or IP literals) whose addresses are not checked. */
  allowedHosts: readonly string[];
  allowPrivateNetworks: boolean;
}

/** Where a webhook request connects: the URL's host resolved once, and checked. */
export interface ResolvedDestination {
  address: string;
  family: 4 | 6;
}

/** A webhook URL the policy refuses; the message says why in words a client can act on. */
export class DestinationRefusal extends Error {}

/** Checks the form of a webhook URL: http(s), a host, no credentials. */
export function parseWebhookUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new DestinationRefusal(`'${value}' is not an absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new DestinationRefusal(`The webhook URL must be http or https, not ${url.protocol.replace(/:$/, '')}`);
  }
  if (url.username || url.password) {
    throw new DestinationRefusal('The webhook URL must not carry credentials (user:password@)');
  }
  return url;
}

/**
 * Resolves the URL's host and checks every address it resolves to, so a name cannot point somewhere
 * else than the address that is then connected to (DNS rebinding): the caller connects to the address returned.
 */
export async function resolveDestination(url: URL, policy: DestinationPolicy): Promise<ResolvedDestination> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  let addresses: { address: string; family: number }[];
  try {
    addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true, verbatim: true });
  } catch (error) {
    throw new DestinationRefusal(`The webhook host '${host}' does not resolve (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  const checked = !policy.allowPrivateNetworks && !policy.allowedHosts.some((allowed) => allowed.replace(/^\[(.*)\]$/, '$1') === host);
  if (checked) {
    for (const { address } of addresses) {
      const kind = refusedKind(address);
      if (kind) {
        throw new DestinationRefusal(
          `The webhook host '${host}' resolves to ${address}, ${kind}; webhooks may not reach it (WEBHOOK_ALLOWED_HOSTS or WEBHOOK_ALLOW_PRIVATE_NETWORKS allow it)`,
        );
      }
    }
  }
  const [first] = addresses;
  if (!first) {
    throw new DestinationRefusal(`The webhook host '${host}' resolves to no address`);
  }
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}

/** The kind of refused range `address` is in, or undefined when webhooks may reach it. */
export function refusedKind(address: string): string | undefined {
  const family = isIP(address);
  const mappedV4 = family === 6 ? ipv4MappedIn(address) : undefined;
  if (mappedV4) {
    return refusedKind(mappedV4);
  }
  const type = family === 6 ? 'ipv6' : 'ipv4';
  return REFUSED.find(({ list }) => list.check(address, type))?.kind;
}

/** The IPv4 address inside an IPv4-mapped IPv6 one, in either notation (`::ffff:127.0.0.1`, or `::ffff:7f00:1` as URLs print it). */
function ipv4MappedIn(address: string): string | undefined {
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (dotted) {
    return dotted[1];
  }
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (!hex) {
    return undefined;
  }
  const [high, low] = [parseInt(hex[1]!, 16), parseInt(hex[2]!, 16)];
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}
