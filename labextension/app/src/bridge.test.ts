import {describe, expect, it} from 'vitest';
import {initialTheme, parsePanelMessage} from './bridge';

describe('bridge', () => {
  it('accepts only well-formed panel messages', () => {
    expect(parsePanelMessage({source: 'sqlrooms-jupyter', type: 'theme', theme: 'dark'})).toEqual({
      source: 'sqlrooms-jupyter',
      type: 'theme',
      theme: 'dark',
    });
    expect(
      parsePanelMessage({source: 'sqlrooms-jupyter', type: 'theme', theme: 'pink'}),
    ).toBeNull();
    expect(parsePanelMessage({source: 'other', type: 'theme', theme: 'dark'})).toBeNull();
    expect(parsePanelMessage('theme')).toBeNull();
  });

  it('starts from ?theme= and falls back to the system preference', () => {
    expect(initialTheme('?kernel=k&theme=dark', false)).toBe('dark');
    expect(initialTheme('?theme=light', true)).toBe('light');
    expect(initialTheme('', true)).toBe('dark');
    expect(initialTheme('?theme=neon', false)).toBe('light');
  });
});
