import net from 'node:net';

/**
 * A port nothing listens on right now (the kernel's pick for port 0), for a server started in
 * another process: the embedded Postgres and Redis, and the tests' and benches' own servers.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}
