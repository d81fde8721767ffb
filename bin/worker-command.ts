/**
 * How a worker process is started, everywhere one is (`npm run start:worker`, docker-compose, the
 * benches, the fault tests). A worker's live data is a few chunks; left to itself V8 let the heap
 * run up to 219-229 MB of RSS on a fast machine before collecting (the 200 MB budget of issue 11),
 * and a 128 MB old space keeps it at about 150 MB for about the same throughput (bench, 50,000
 * domains: 145-150 MB through three jobs).
 */
const WORKER_HEAP_ARGS = ['--max-old-space-size=128'];

/**
 * The worker from the TypeScript source through tsx (tests and benches: no build needed, and they
 * run what is in the tree). Production (`npm run start:worker`, the image) runs the compiled
 * `dist/bin/worker.js` with WORKER_HEAP_ARGS; test/e2e/built.test.ts checks that one.
 */
export const WORKER_NODE_ARGS = [...WORKER_HEAP_ARGS, '--import', 'tsx', 'bin/worker.ts'];

/** `npm run start:worker`: the compiled worker under plain node, relative to the project folder. */
export const WORKER_BUILT_ARGS = [...WORKER_HEAP_ARGS, 'dist/bin/worker.js'];
