// Empty: the thinking block is opened and closed at once.
import type { ConditionStrategy } from "./types.js";
import { recordCondition } from "./keys.js";
import { conditionKey } from "../../results/schema.js";

export const emptyCondition: ConditionStrategy = {
  fullCot: async () => ({ cot: "", meta: {} }),
  chainKey: (job) => conditionKey(recordCondition(job.cond, "full")),
  answerTemperature: () => 0,
  paperGradingModel: (job) => job.target.name,
};
