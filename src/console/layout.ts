/** The frame of every console page: head with the one stylesheet and script, nav, sign-out. */
import { type Html, html } from './html.js'

export interface PageFrame {
  title: string
  /** Which nav entry is current. */
  section: 'overview' | 'runs' | 'rejections' | 'endpoints' | 'notifications' | null
  /** The session's CSRF token; null on the sign-in page (no session yet). */
  csrf: string | null
  /** A one-line message at the top (the outcome of the last action). */
  notice?: string | undefined
}

const NAV = [
  { section: 'overview', href: '/console', label: 'Overview' },
  { section: 'runs', href: '/console/runs', label: 'Runs' },
  { section: 'rejections', href: '/console/rejections', label: 'Rejections' },
  { section: 'endpoints', href: '/console/endpoints', label: 'Endpoints' },
  { section: 'notifications', href: '/console/notifications', label: 'Notifications' },
] as const

export function csrfField(csrf: string): Html {
  return html`<input type="hidden" name="_csrf" value=${csrf} />`
}

function header(frame: PageFrame): Html {
  return html`<header class="top">
    <a class="brand" href="/console">sdrive-ftp-bridge</a>
    ${
      frame.csrf === null
        ? null
        : html`<nav>
            ${NAV.map(
              (n) =>
                html`<a href=${n.href} class=${n.section === frame.section ? 'current' : undefined}
                  >${n.label}</a
                >`,
            )}
          </nav>
          <form method="post" action="/console/sign-out" class="sign-out">
            ${csrfField(frame.csrf)}
            <span class="who">signed in</span>
            <button type="submit">Sign out</button>
          </form>`
    }
  </header>`
}

export function page(frame: PageFrame, body: Html): Html {
  return html`<html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      ${frame.csrf === null ? null : html`<meta name="csrf-token" content=${frame.csrf} />`}
      <title>${frame.title} · sdrive-ftp-bridge</title>
      <link rel="stylesheet" href="/console/assets/console.css" />
      <script src="/console/assets/console.js" defer></script>
    </head>
    <body>
      ${header(frame)}
      <main>
        <h1>${frame.title}</h1>
        ${frame.notice ? html`<p class="notice" role="status">${frame.notice}</p>` : null}
        ${body}
      </main>
    </body>
  </html>`
}
