// A wait that ends early when the cell is interrupted: the magics that poll (--watch, health gates, Swarm
// convergence) must stop at once, never keep a timer running for an interrupted cell.
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
