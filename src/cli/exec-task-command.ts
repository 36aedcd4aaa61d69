// `sieve exec-task <task.json>`: runs one node instance from a task description file, the command a
// cluster job runs on its compute node (see runtime/exec-task.ts). Exit 0 when the outputs are in
// the cache (run or reused), 1 when the node failed, 2 for a malformed task file.
import { execTask, readTaskFile } from '../runtime/execution/exec-task.js';

export async function execTaskCommand(taskPath: string): Promise<number> {
  const task = readTaskFile(taskPath);
  const controller = new AbortController();
  // scancel sends SIGTERM: stop the node; what it wrote is in the cache's tmp/, never visible.
  const stop = (): void => {
    controller.abort();
    process.stderr.write(`${task.nodeId}: terminated\n`);
    process.exit(143);
  };
  process.once('SIGTERM', stop);
  const result = await execTask(task, {
    log: (line) => process.stdout.write(`[${new Date().toISOString()}] ${line}\n`),
    signal: controller.signal,
  });
  process.off('SIGTERM', stop);
  return result.status === 'failed' ? 1 : 0;
}
