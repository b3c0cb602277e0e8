// models.* and data.*: the models runs can use, and the tasks a data folder holds.

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ApiError } from '../../contract/index.ts';
import { DEMO_TASKS_DIR } from '../analysis/inputs.ts';
import { locateTask } from '../eval/task-data.ts';
import { BENCHMARK_TASKS, TASKS } from '../eval/tasks.ts';
import { importModel, listModels } from '../experiments/model-registry.ts';
import { inspectModel } from '../models/folder.ts';
import type { Handlers } from './types.ts';

export const modelHandlers: Handlers<'models.list' | 'models.inspect' | 'models.import' | 'data.tasks'> = {
  'models.list': (_p, ctx) => listModels(ctx.services.store),
  'models.inspect': ({ path }) => {
    const { config: _config, ...info } = inspectModel(resolve(path));
    return info;
  },
  'models.import': ({ path, name }, ctx) => {
    const m = importModel(ctx.services.store, path, name);
    return listModels(ctx.services.store).find((e) => e.id === m.id)!;
  },
  'data.tasks': ({ dataDirs = [] }) => {
    const dirs = dataDirs.map((d) => resolve(d));
    const missingDir = dirs.find((d) => !existsSync(d));
    if (missingDir) throw new ApiError('E_NOT_FOUND', `data.tasks: dataDirs: folder ${missingDir} does not exist`, { dataDir: missingDir });
    return TASKS.map((t) => {
      const where = locateTask(t, BENCHMARK_TASKS.includes(t.name) ? dirs : [...dirs, DEMO_TASKS_DIR]);
      return 'paths' in where
        ? { name: t.name, benchmark: BENCHMARK_TASKS.includes(t.name), available: true, files: where.paths, lookedFor: where.paths }
        : { name: t.name, benchmark: BENCHMARK_TASKS.includes(t.name), available: false, files: [], lookedFor: where.missing };
    });
  },
};
