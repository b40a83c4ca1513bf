/** ES2024's check for a lone surrogate, in every Node.js convsync runs on (20 and later) */
type WellFormedString = string & { isWellFormed(): boolean };

/**
 * Whether a text is well-formed Unicode: JSON may carry an unpaired surrogate (`"\ud800"`), which
 * SQLite keeps as bytes that read back as U+FFFD, so two names apart would come back as one
 */
export function wellFormedText(text: string): boolean {
  return (text as WellFormedString).isWellFormed();
}
