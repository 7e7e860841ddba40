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
      serializers: { err: serializeError },
    },
    pino.destination({ fd: options.destination ?? 1, sync: false }),
  );
}

/**
 * Kubernetes client errors carry the whole HTTP exchange; a log line needs the status code and
 * the server's message.
 */
function serializeError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const { code, body } = error as { code?: unknown; body?: unknown };
  if (typeof code === 'number' && body !== undefined) {
    const parsed = typeof body === 'string' ? safeJson(body) : body;
    const message = (parsed as { message?: string } | undefined)?.message ?? error.message.split('\n')[0];
    return { type: 'KubernetesApiError', code, message };
  }
  return pino.stdSerializers.err(error);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text };
  }
}

/** A child logger that puts the object's namespace/name on every line. */
export function forObject(log: Logger, object: { namespace: string; name: string }, kind?: string): Logger {
  return log.child(kind ? { kind, namespace: object.namespace, name: object.name } : object);
}
