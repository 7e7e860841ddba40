/**
 * Real servers on 127.0.0.1 that misbehave in the ways timeouts exist for: one whose accept queue
 * is full (a TCP connect never completes), one that accepts and never writes a byte (no HTTP
 * response, no TLS handshake), and HTTP servers whose handler sends headers and stops, or
 * dribbles. Nothing here connects anywhere but loopback.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';

export interface LoopbackServer {
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  close(): void;
}

/** Accepts connections and never writes to them. */
export async function silentServer(): Promise<LoopbackServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

/**
 * A listener that never accepts: a child process listens with a backlog of 1 and then blocks its
 * only thread. Linux completes backlog + 1 handshakes and then drops SYNs, so once the queue is
 * full (filled here) a connect waits for ever, like one to a host that is down.
 */
export async function unacceptingServer(): Promise<LoopbackServer> {
  const script = `
    const server = require('node:net').createServer();
    server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
      process.stdout.write(server.address().port + '\\n', () =>
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0));
    });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (data: Buffer) => resolve(Number(String(data).trim())));
    child.once('error', reject);
  });
  const fillers: net.Socket[] = [];
  for (let attempt = 0; attempt < 16; attempt++) {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    fillers.push(socket);
    const connected = await new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(true));
      setTimeout(() => resolve(false), 200);
    });
    if (!connected) break;
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () => {
      for (const socket of fillers) socket.destroy();
      child.kill('SIGKILL');
    },
  };
}

/** An HTTP server with the test's handler; close() also drops open connections. */
export async function httpServer(handler: http.RequestListener): Promise<LoopbackServer> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** A handler that sends the status line, headers and `first`, then nothing more. */
export function headersThenSilence(first = ''): http.RequestListener {
  return (_request, response) => {
    response.writeHead(200, { 'content-length': first.length + 1000 });
    if (first) response.write(first);
    else response.flushHeaders();
  };
}

/** A handler that sends `body` in `chunks` pieces, one every `everyMs` (and ends, unless `forever`). */
export function dribble(
  body: Buffer,
  chunks: number,
  everyMs: number,
  forever = false,
): http.RequestListener {
  return (request, response) => {
    response.writeHead(200, forever ? {} : { 'content-length': body.length });
    const size = Math.ceil(body.length / chunks);
    let sent = 0;
    const timer = setInterval(() => {
      if (forever) {
        response.write('x');
        return;
      }
      response.write(body.subarray(sent, sent + size));
      sent += size;
      if (sent >= body.length) {
        clearInterval(timer);
        response.end();
      }
    }, everyMs);
    request.socket.on('close', () => clearInterval(timer));
  };
}
