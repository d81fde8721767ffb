import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { ApiError, api } from '../api';
import { Field } from '../ui';

/**
 * The API key is sent once and exchanged for an httpOnly session cookie; it is never stored by
 * the console (not in localStorage, not in memory after the request).
 */
export function SignIn() {
  const qc = useQueryClient();
  const [key, setKey] = useState('');
  const signIn = useMutation({
    mutationFn: (apiKey: string) => api('POST', '/v1/sessions', { api_key: apiKey }),
    onSuccess: () => {
      setKey('');
      qc.invalidateQueries({ queryKey: ['me'] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    signIn.mutate(key);
  };
  const error = signIn.error instanceof ApiError ? signIn.error.message : signIn.error ? 'The API could not be reached.' : undefined;
  return (
    <main id="main" className="signin">
      <h1>Reseller console</h1>
      <p>Paste your API key to sign in. The key is exchanged for a session that lasts 12 hours; it is not kept by your browser.</p>
      <form onSubmit={submit}>
        <Field label="API key" error={error}>
          {(p) => (
            <input
              {...p}
              type="password"
              autoComplete="off"
              spellCheck={false}
              required
              value={key}
              onChange={(e) => setKey(e.target.value)}
            />
          )}
        </Field>
        <button type="submit" disabled={signIn.isPending}>
          Sign in
        </button>
      </form>
    </main>
  );
}
