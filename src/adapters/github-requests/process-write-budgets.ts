import { WriteBudgets } from "../../core/write-budget.js";

/** The write budgets of this process: one per installation (or token), shared by all its agents and Octokits. */
export const processWriteBudgets = new WriteBudgets();
