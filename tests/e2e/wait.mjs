// Small helpers the browser tests share: waiting, polling, and a free loopback port.
import net from 'node:net';

export const sleep = ms => new Promise(r => setTimeout(r, ms));

/// Polls `fn` every `every` ms until it returns something truthy or `ms` have passed; returns
/// the last value.
export async function until(fn, ms = 5000, every = 50) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v || Date.now() - t0 > ms) return v;
    await sleep(every);
  }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
export const freePort = () => new Promise((res, rej) => {
  const s = net.createServer();
  s.on('error', rej);
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
});
