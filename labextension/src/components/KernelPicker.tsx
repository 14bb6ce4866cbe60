import React from 'react';
import type { IKernelChoice } from '../kernels';

export interface IKernelPickerProps {
  kernels: readonly IKernelChoice[];
  /** Kernels known to run a SQLRooms server, marked in the list. */
  withServer: ReadonlySet<string>;
  selected: string | null;
  onSelect(kernelId: string | null): void;
}

/** Which running kernel the panel queries. */
export function KernelPicker(props: IKernelPickerProps): JSX.Element {
  const { kernels, withServer, selected, onSelect } = props;
  const known = kernels.some(kernel => kernel.id === selected);
  return (
    <label className="jp-SqlRooms-kernelPicker">
      <span>Kernel</span>
      <select
        value={selected ?? ''}
        onChange={event => onSelect(event.target.value || null)}
      >
        <option value="">No kernel</option>
        {selected && !known && (
          <option value={selected}>{selected.slice(0, 8)} (not running)</option>
        )}
        {kernels.map(kernel => (
          <option key={kernel.id} value={kernel.id}>
            {kernel.label}
            {withServer.has(kernel.id) ? ' \u25CF SQLRooms' : ''}
          </option>
        ))}
      </select>
    </label>
  );
}
