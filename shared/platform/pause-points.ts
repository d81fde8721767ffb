/**
 * Named points where a fault test can freeze this process (as a VM pause, a debugger or a long GC
 * would). A no-op unless the fault harness turns it on.
 */
export type PausePoint = 'take' | 'before_take_commit' | 'after_unlock' | 'before_relock' | 'before_send';

export function pausePoint(_name: PausePoint): void {}
