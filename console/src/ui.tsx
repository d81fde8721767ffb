import { type ReactNode, useEffect, useId, useRef, useState } from 'react';

/** A labelled input with its error right below it, tied by aria-describedby and announced (role=alert). */
export function Field({
  label,
  error,
  hint,
  children,
}: {
  label: string;
  error?: string;
  hint?: string;
  children: (props: { id: string; 'aria-invalid'?: boolean; 'aria-describedby'?: string }) => ReactNode;
}) {
  const id = useId();
  const describedBy = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {hint && (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {children({ id, 'aria-invalid': error ? true : undefined, 'aria-describedby': describedBy })}
      {error && (
        <p className="field-error" id={`${id}-error`} role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p className="error-box" role="alert">
      {(error as Error).message}
    </p>
  );
}

/** A status in its colour; `tone` names the colour when the word is a kind's own (its done status: `done`). */
export function StatusBadge({ status, tone }: { status: string; tone?: string }) {
  return <span className={`badge badge-${tone ?? status}`}>{status}</span>;
}

/** A confirmation in a native modal <dialog>: focus is trapped and Escape closes it. */
export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  cancelLabel = 'Keep it',
  onConfirm,
  onClose,
  busy,
}: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  cancelLabel?: string;
  onConfirm: () => void;
  onClose: () => void;
  busy?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} aria-labelledby={titleId} onClose={onClose} className="confirm">
      <h2 id={titleId}>{title}</h2>
      {children}
      <div className="actions">
        <button type="button" className="danger" onClick={onConfirm} disabled={busy}>
          {confirmLabel}
        </button>
        <button type="button" className="secondary" onClick={onClose}>
          {cancelLabel}
        </button>
      </div>
    </dialog>
  );
}

/**
 * A value to copy (a new key, a secret, an id) and its copy button. Without clipboard access
 * (plain HTTP, permission refused) the value is selected for a manual copy instead. The result is
 * announced (aria-live) and cleared after a few seconds, so a second copy is announced again.
 */
export function CopyValue({ value, buttonLabel, id }: { value: string; buttonLabel: string; id?: string }) {
  const ownId = useId();
  const valueId = id ?? ownId;
  const [said, setSaid] = useState('');
  const timer = useRef<number>(undefined);
  useEffect(() => () => window.clearTimeout(timer.current), []);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setSaid('Copied');
    } catch {
      const el = document.getElementById(valueId);
      if (el) window.getSelection()?.selectAllChildren(el);
      setSaid('Selected: press Ctrl+C to copy');
    }
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => setSaid(''), 4000);
  };
  return (
    <div className="copy-row">
      <code id={valueId} className="copy-value">
        {value}
      </code>
      <button type="button" className="secondary" onClick={copy} aria-describedby={valueId}>
        {buttonLabel}
      </button>
      <span aria-live="polite">{said}</span>
    </div>
  );
}
