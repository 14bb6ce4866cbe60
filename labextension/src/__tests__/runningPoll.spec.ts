import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RunningPoll } from '../runningPoll';

describe('RunningPoll', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('polls while told to go on, then waits for a refresh', async () => {
    let running = true;
    const ask = vi.fn(async () => running);
    const poll = new RunningPoll(ask, 3000);
    poll.refresh();
    await vi.advanceTimersByTimeAsync(6100);
    expect(ask).toHaveBeenCalledTimes(3); // at 0, 3 s and 6 s

    running = false;
    await vi.advanceTimersByTimeAsync(3000);
    const asked = ask.mock.calls.length;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(ask).toHaveBeenCalledTimes(asked); // stopped: no more questions

    running = true;
    poll.refresh();
    await vi.advanceTimersByTimeAsync(3100);
    expect(ask).toHaveBeenCalledTimes(asked + 2);
    poll.dispose();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(ask).toHaveBeenCalledTimes(asked + 2);
  });

  it('asks again after the question in flight, once', async () => {
    let release: (value: boolean) => void = () => {};
    const ask = vi.fn(
      () =>
        new Promise<boolean>(resolve => {
          release = resolve;
        })
    );
    const poll = new RunningPoll(ask, 3000);
    poll.refresh();
    poll.refresh();
    poll.refresh();
    expect(ask).toHaveBeenCalledTimes(1);
    release(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(ask).toHaveBeenCalledTimes(2);
    release(false);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(ask).toHaveBeenCalledTimes(2);
    poll.dispose();
  });
});
