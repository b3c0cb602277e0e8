// Child process for crash.test.ts: writes runs with many records, each batch in one
// transaction, in an endless loop, announcing each step on stdout (synchronous for pipes on
// Linux, so the parent sees a line before the step it announces begins). The parent kills it
// with SIGKILL mid-write.
//   node --import tsx test/store/writer-child.ts <db file> <records per run>
import { openStore } from '../../main/engine/store/index.ts';

const [file, perRunArg] = process.argv.slice(2);
const perRun = Number(perRunArg);
const store = openStore(file!);
const say = (line: string) => process.stdout.write(`${line}\n`);
say('ready');
for (let i = 0; ; i++) {
  const run = store.runs.create({ kind: 'eval', name: `crash ${process.pid} ${i}`, config: { i }, versions: { recall: 'test' } });
  store.runs.start(run.id);
  const records = Array.from({ length: perRun }, (_, item) => ({ item, payload: { item, text: 'x'.repeat(40) } }));
  say(`begin ${run.id}`);
  store.records.insertMany(run.id, 'task', records);
  store.metrics.upsert(run.id, { task: 'task', metric: 'n', value: perRun });
  store.runs.finish(run.id);
  say(`done ${run.id}`);
}
