import { useSyncExternalStore } from 'react';
import type { IPanelState, PanelModel } from '../panelModel';

/** The model's current state; re-renders when it changes. */
export function usePanelState(model: PanelModel): IPanelState {
  return useSyncExternalStore(
    onChange => {
      model.stateChanged.connect(onChange);
      return () => {
        model.stateChanged.disconnect(onChange);
      };
    },
    () => model.state
  );
}
