// Times graphile-worker draining N no-op jobs: `node bench.mjs <database url> <jobs> <concurrency>`.
// Installs its schema (graphile_worker) if needed, enqueues the jobs in one statement,
// then starts a worker and stops it when every job has succeeded. Prints one JSON line:
// {"jobs": N, "seconds": S, "per_second": R}. benches/jobs.rs runs it.
import { Logger, run, runMigrations } from "graphile-worker";
import pg from "pg";

const [url, jobsArg, concurrencyArg] = process.argv.slice(2);
const jobs = Number(jobsArg);
const concurrency = Number(concurrencyArg);
if (!url || !(jobs > 0) || !(concurrency > 0)) {
  console.error("usage: node bench.mjs <database url> <jobs> <concurrency>");
  process.exit(2);
}

await runMigrations({ connectionString: url, logger: new Logger(() => () => {}) });
const client = new pg.Client({ connectionString: url });
await client.connect();
await client.query("SELECT graphile_worker.add_job('noop', '{}'::json) FROM generate_series(1, $1)", [jobs]);
await client.end();

let done = 0;
let finish;
const finished = new Promise((resolve) => (finish = resolve));
const started = process.hrtime.bigint();
const runner = await run({
  connectionString: url,
  concurrency,
  noHandleSignals: true,
  pollInterval: 1000,
  taskList: { noop: async () => {} },
  // Quiet: a log line per job would cost more than the job.
  logger: new Logger(() => () => {}),
});
runner.events.on("job:success", () => {
  done += 1;
  if (done === jobs) finish();
});
await finished;
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
await runner.stop();
console.log(JSON.stringify({ jobs, seconds, per_second: jobs / seconds }));
