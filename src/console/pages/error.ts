/** What a console page shows when a request fails: the status, the stable code and the message. */
import { type Html, html } from '../html.js'
import { page } from '../layout.js'

export function errorPage(status: number, code: string, message: string, csrf: string | null): Html {
  return page(
    { title: `${status} ${code}`, section: null, csrf },
    html`<p class="error" data-code=${code}>${message}</p>
      <p><a href="/console">← Overview</a></p>`,
  )
}
