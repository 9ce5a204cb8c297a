// Turns a cell's IOPub messages into its stored outputs, as nbclient does: consecutive streams of one name merge,
// `update_display_data` (and a new output reusing a display id) rewrites every earlier output with that display
// id in any cell, `clear_output` clears now or, with `wait`, just before the next output. `transient` is never stored.
import type { MimeBundle } from '../protocol/messages';
import type { Cell, Output } from './notebook';

function bundle(value: unknown): MimeBundle {
  return value && typeof value === 'object' && !Array.isArray(value) ? { ...(value as MimeBundle) } : {};
}

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? { ...(value as Record<string, unknown>) } : {};
}

function displayIdOf(content: Record<string, unknown>): string | undefined {
  const transient = content.transient;
  const id = transient && typeof transient === 'object' ? (transient as Record<string, unknown>).display_id : undefined;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/** An output as nbformat stores it, from an IOPub message (undefined for messages that are not outputs). */
export function outputFromMessage(msgType: string, content: Record<string, unknown>): Output | undefined {
  switch (msgType) {
    case 'stream':
      return { output_type: 'stream', name: content.name === 'stderr' ? 'stderr' : 'stdout', text: String(content.text ?? '') };
    case 'display_data':
      return { output_type: 'display_data', data: bundle(content.data), metadata: record(content.metadata) };
    case 'execute_result':
      return { output_type: 'execute_result', execution_count: typeof content.execution_count === 'number' ? content.execution_count : null, data: bundle(content.data), metadata: record(content.metadata) };
    case 'error':
      return {
        output_type: 'error',
        ename: String(content.ename ?? 'Error'),
        evalue: String(content.evalue ?? ''),
        traceback: Array.isArray(content.traceback) ? content.traceback.map(String) : [],
      };
    default:
      return undefined;
  }
}

/** Outputs of a whole run: one recorder per notebook, so display ids can reach outputs of earlier cells. */
export class OutputRecorder {
  /** display id -> the cells holding outputs with it -> their indices in cell.outputs. */
  private readonly displays = new Map<string, Map<Cell, number[]>>();
  private clearBeforeNext = false;

  /** A cell starts: its outputs are emptied. */
  begin(cell: Cell): void {
    cell.outputs = [];
    this.clearBeforeNext = false;
    this.forget(cell);
  }

  /** Applies one IOPub message with this cell's request as parent. */
  apply(cell: Cell, msgType: string, content: Record<string, unknown>): void {
    const displayId = displayIdOf(content);
    if (displayId && (msgType === 'display_data' || msgType === 'execute_result' || msgType === 'update_display_data')) {
      this.update(displayId, bundle(content.data), record(content.metadata));
    }
    if (msgType === 'clear_output') {
      if (content.wait === true) this.clearBeforeNext = true;
      else this.clear(cell);
      return;
    }
    const output = outputFromMessage(msgType, content);
    if (!output) return;
    if (this.clearBeforeNext) {
      this.clear(cell);
      this.clearBeforeNext = false;
    }
    const outputs = (cell.outputs ??= []);
    const last = outputs[outputs.length - 1];
    if (output.output_type === 'stream' && last?.output_type === 'stream' && last.name === output.name) {
      last.text += output.text;
      return;
    }
    if (displayId) {
      const cells = this.displays.get(displayId) ?? new Map<Cell, number[]>();
      this.displays.set(displayId, cells);
      cells.set(cell, [...(cells.get(cell) ?? []), outputs.length]);
    }
    outputs.push(output);
  }

  /** Adds an output the runner writes itself (a timeout, a dead kernel). */
  add(cell: Cell, output: Output): void {
    (cell.outputs ??= []).push(output);
  }

  private update(displayId: string, data: MimeBundle, metadata: Record<string, unknown>): void {
    for (const [cell, indices] of this.displays.get(displayId) ?? []) {
      for (const i of indices) {
        const target = cell.outputs?.[i];
        if (target && (target.output_type === 'display_data' || target.output_type === 'execute_result')) {
          target.data = { ...data };
          target.metadata = { ...metadata };
        }
      }
    }
  }

  private clear(cell: Cell): void {
    cell.outputs = [];
    this.forget(cell);
  }

  private forget(cell: Cell): void {
    for (const cells of this.displays.values()) cells.delete(cell);
  }
}
