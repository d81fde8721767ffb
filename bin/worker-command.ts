/**
 * How a worker process is started, everywhere one is (`npm run start:worker`, docker-compose, the
 * benches, the fault tests). A worker's live data is a few chunks; left to itself V8 let the heap
 * run up to 219-229 MB of RSS on a fast machine before collecting (the 200 MB budget of issue 11),
 * and a 128 MB old space keeps it at about 150 MB for about the same throughput (bench, 50,000
 * domains: 145-150 MB through three jobs).
 */
export const WORKER_NODE_ARGS = ['--max-old-space-size=128', '--import', 'tsx', 'bin/worker.ts'];
