import {createContext, useContext} from 'react';
import type {Connection} from './connection';
import type {AppState, AppStore} from './store';

export type AppContextValue = {store: AppStore; connection: Connection};

export const AppContext = createContext<AppContextValue | null>(null);

export function useApp(): AppContextValue {
  const value = useContext(AppContext);
  if (!value) throw new Error('useApp() outside <AppContext>');
  return value;
}

export function useAppState<T>(selector: (state: AppState) => T): T {
  return useApp().store.useRoomStore(selector);
}
