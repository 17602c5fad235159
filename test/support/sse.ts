export interface SseEvent {
  event?: string;
  id?: string;
  data?: string;
  comment?: string;
}

export interface SseStream {
  status: number;
  /** Every dispatched event and heartbeat comment, in order (a block with only `retry:` dispatches nothing, as in EventSource). */
  events: SseEvent[];
  /** The reconnection delay the server asked for, in ms. */
  retry?: number;
  /**
   * Resolves when the stream ends: `completed` when the server finished the response, `interrupted` when
   * the connection broke off first (a server that stops breaks its streams off so clients reconnect).
   */
  ended: Promise<'completed' | 'interrupted'>;
  close(): void;
}

/** Opens an SSE stream with fetch and collects its events as they arrive. */
export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const events: SseEvent[] = [];
  const stream: SseStream = { status: response.status, events, ended: Promise.resolve('completed'), close: () => controller.abort() };
  stream.ended = (async () => {
    if (!response.body || response.status !== 200) {
      return 'completed';
    }
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let boundary: number;
        while ((boundary = buffer.indexOf('\n\n')) >= 0) {
          const event = parseBlock(buffer.slice(0, boundary), stream);
          if (event) {
            events.push(event);
          }
          buffer = buffer.slice(boundary + 2);
        }
      }
    } catch (error) {
      if ((error as Error).name === 'AbortError') {
        return 'completed';
      }
      return 'interrupted';
    }
    return 'completed';
  })();
  return stream;
}

function parseBlock(block: string, stream: SseStream): SseEvent | undefined {
  const event: SseEvent = {};
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) {
      event.comment = line.slice(1).trim();
      continue;
    }
    const separator = line.indexOf(':');
    const field = line.slice(0, separator);
    const value = line.slice(separator + 1).replace(/^ /, '');
    if (field === 'data') {
      event.data = event.data === undefined ? value : `${event.data}\n${value}`;
    } else if (field === 'event' || field === 'id') {
      event[field] = value;
    } else if (field === 'retry') {
      stream.retry = Number(value);
    }
  }
  return event.data !== undefined || event.comment !== undefined ? event : undefined;
}
