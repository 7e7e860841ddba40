import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON logs on stdout (stderr for CLI commands whose stdout is the product). */
export function createLogger(options: { name: string; level?: string; destination?: 1 | 2 }): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? process.env.PRUNEGUARD_LOG_LEVEL ?? 'info',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ fd: options.destination ?? 1, sync: false }),
  );
}

/** A child logger that puts the object's namespace/name on every line. */
export function forObject(log: Logger, object: { namespace: string; name: string }, kind?: string): Logger {
  return log.child(kind ? { kind, namespace: object.namespace, name: object.name } : object);
}
