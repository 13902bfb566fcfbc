// Loaded into every test file's process by test/run.mjs: each file gets its own settings,
// response cache and models folder under the run's scratch folder, so files running side by
// side never share what one of them writes (the user's own folders are never used).
import { join } from "node:path";

const scratch = process.env.CONCORD_TEST_SCRATCH;
if (scratch) {
  const own = join(scratch, `file-${process.pid}`);
  process.env.CONCORD_CACHE_DIR ??= join(own, "cache");
  process.env.CONCORD_CONFIG_DIR ??= join(own, "config");
  process.env.CONCORD_MODELS_DIR ??= join(own, "models");
}
