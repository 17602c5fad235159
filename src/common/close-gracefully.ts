const CLOSE_TIMEOUT_MS = 3000;

/**
 * Closes a connection politely (QUIT), and drops it instead when that fails or does not finish
 * in time: a polite close can wait forever on a server that went away and came back.
 */
export async function closeGracefully(close: () => Promise<unknown>, drop: () => unknown, timeoutMs = CLOSE_TIMEOUT_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timed out'>((resolve) => (timer = setTimeout(() => resolve('timed out'), timeoutMs)));
  try {
    const outcome = await Promise.race([close().then(() => 'closed' as const, () => 'failed' as const), timedOut]);
    if (outcome !== 'closed') {
      await drop();
    }
  } finally {
    clearTimeout(timer);
  }
}
