import type { ActionCore, SummaryCell } from "../../src/action/action-core.js";

/** A recording @actions/core for unit tests: inputs from a map, everything else kept. */
export interface FakeCore extends ActionCore {
  inputs: Record<string, string>;
  outputs: Record<string, string>;
  failed: string[];
  secrets: string[];
  notices: string[];
  warnings: string[];
  infos: string[];
  tables: SummaryCell[][][];
  /** Headings and raw text added to the job summary, in order. */
  text: string[];
  written: number;
}

export function fakeCore(inputs: Record<string, string> = {}): FakeCore {
  const core: FakeCore = {
    inputs,
    outputs: {},
    failed: [],
    secrets: [],
    notices: [],
    warnings: [],
    infos: [],
    tables: [],
    text: [],
    written: 0,
    getInput: (name) => (core.inputs[name] ?? "").trim(),
    setOutput: (name, value) => {
      core.outputs[name] = value;
    },
    setFailed: (message) => {
      core.failed.push(String(message));
    },
    setSecret: (secret) => {
      core.secrets.push(secret);
    },
    info: (message) => {
      core.infos.push(message);
    },
    notice: (message) => {
      core.notices.push(String(message));
    },
    warning: (message) => {
      core.warnings.push(String(message));
    },
    summary: {
      addHeading: (heading) => {
        core.text.push(heading);
      },
      addTable: (rows) => {
        core.tables.push(rows);
      },
      addRaw: (raw) => {
        core.text.push(raw);
      },
      write: async () => {
        core.written += 1;
      },
    },
  };
  return core;
}
