/** The sign-in form: an API key, posted with the pre-session CSRF token (double submit). */
import { type Html, html } from '../html.js'
import { page } from '../layout.js'

export function signInPage(loginToken: string, problem?: string): Html {
  return page(
    { title: 'Sign in', section: null, csrf: null, notice: problem },
    html`<form method="post" action="/console/sign-in" class="sign-in">
      <input type="hidden" name="_csrf" value=${loginToken} />
      <label>API key
        <input type="password" name="apiKey" autocomplete="current-password" required autofocus />
      </label>
      <button type="submit">Sign in</button>
      <p class="muted">Any key of <code>server.apiKeys</code>. It is checked once and not kept: the session is a cookie.</p>
    </form>`,
  )
}
