/**
 * What a test process started outside itself (a control plane, a real node) is stopped when the
 * process exits or is told to (SIGINT, SIGTERM), so that nothing outlives it. Stops run
 * synchronously, newest first (a node before the control plane it joined); after a signal the
 * process exits with the signal's code.
 */
const stops: (() => void)[] = [];
let installed = false;

/** Registers `stop`; the returned function unregisters it (once it has been stopped otherwise). */
export function stopOnExit(stop: () => void): () => void {
  stops.push(stop);
  if (!installed) {
    installed = true;
    process.on('exit', stopAll);
    for (const [signal, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const)
      process.once(signal, () => {
        stopAll();
        process.exit(code);
      });
  }
  return () => {
    const at = stops.indexOf(stop);
    if (at >= 0) stops.splice(at, 1);
  };
}

function stopAll(): void {
  for (const stop of stops.splice(0).reverse()) stop();
}
