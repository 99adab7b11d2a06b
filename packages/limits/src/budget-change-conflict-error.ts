/**
 * A budget change reused a change id the store still remembers for another budget or another change
 * (operation or amount). Change ids name one change each: reuse one only to retry that same change.
 * Nothing was changed.
 */
export class BudgetChangeConflictError extends Error {
  readonly changeId: string;

  constructor(changeId: string) {
    super(`Change id ${JSON.stringify(changeId)} is already used by another budget change`);
    this.name = 'BudgetChangeConflictError';
    this.changeId = changeId;
  }
}
