import { DomainError } from '../common/domain-errors';
import { AppConfig } from '../config/app-config';
import { StreamSlots } from './stream-slots';

const slots = () => new StreamSlots(new AppConfig({ SSE_MAX_STREAMS: '3', SSE_MAX_STREAMS_PER_CLIENT: '2' }));

function refusal(take: () => unknown): { status: number; code: string; retryAfter?: string } {
  try {
    take();
  } catch (error) {
    if (error instanceof DomainError) {
      return { status: error.status, code: error.code, retryAfter: error.headers['retry-after'] };
    }
    throw error;
  }
  throw new Error('the slot was given');
}

describe('StreamSlots', () => {
  it('counts per client and per process, and a release (given once, however often called) frees one slot', () => {
    const streams = slots();
    const first = streams.take('key:a');
    streams.take('key:a');
    expect(refusal(() => streams.take('key:a'))).toEqual({ status: 429, code: 'too_many_streams', retryAfter: '5' });
    streams.take('ip:10.0.0.1');
    expect(refusal(() => streams.take('ip:10.0.0.2'))).toEqual({ status: 503, code: 'streams_at_capacity', retryAfter: '5' });
    first();
    first();
    streams.take('key:a');
    expect(refusal(() => streams.take('key:b'))).toEqual({ status: 503, code: 'streams_at_capacity', retryAfter: '5' });
  });

  it('defaults to 1000 per process and 50 per client', () => {
    expect(new AppConfig({}).streamCaps).toEqual({ perProcess: 1000, perClient: 50 });
  });
});
