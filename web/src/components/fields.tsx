// Form pieces: a labelled text input and the error line under a form.

/** A labelled text input; `onValue` receives the text after every edit. */
export function TextField({ label, value, onValue, testId, type, autocomplete, spellcheck, placeholder, maxLength, mono = false }: {
  label: string;
  value: string;
  onValue: (value: string) => void;
  testId: string;
  type?: "text" | "password";
  autocomplete?: string;
  spellcheck?: boolean;
  placeholder?: string;
  maxLength?: number;
  /** Monospaced text (keys, tokens). */
  mono?: boolean;
}) {
  return (
    <label class="field">
      <span class="field-label">{label}</span>
      <input
        class={mono ? "input mono" : "input"}
        type={type}
        autocomplete={autocomplete}
        spellcheck={spellcheck}
        placeholder={placeholder}
        maxLength={maxLength}
        value={value}
        onInput={(e) => {
          onValue(e.currentTarget.value);
        }}
        data-testid={testId}
      />
    </label>
  );
}

/** The message of a failed action (announced as an alert), or nothing while `error` is null. */
export function FieldError({ error, class: cls, testId }: { error: string | null; class?: string; testId?: string }) {
  if (error === null) return null;
  return (
    <div class={cls === undefined ? "field-error" : `field-error ${cls}`} role="alert" data-testid={testId}>
      {error}
    </div>
  );
}
