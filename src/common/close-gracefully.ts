import { withTimeout } from './with-timeout';

const CLOSE_TIMEOUT_MS = 3000;

/**
 * Closes a connection politely (QUIT), and drops it instead when that fails or does not finish
 * in time: a polite close can wait forever on a server that went away and came back.
 */
export async function closeGracefully(close: () => Promise<unknown>, drop: () => unknown, timeoutMs = CLOSE_TIMEOUT_MS): Promise<void> {
  const closed = close().then(
    () => true,
    () => false,
  );
  if (!(await withTimeout(closed, timeoutMs, () => false))) {
    await drop();
  }
}
