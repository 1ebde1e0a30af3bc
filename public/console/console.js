// The console's progressive enhancement; every page works without it except the live progress.
// - forms with data-confirm ask before they post;
// - a <progress data-events> follows its run's server-sent events, and reloads the page when the run ends.

document.addEventListener('submit', (event) => {
  const form = event.target
  if (!(form instanceof HTMLFormElement)) return
  const question = form.dataset.confirm
  if (question && !window.confirm(question)) event.preventDefault()
})

function followRun(bar) {
  const text = document.getElementById('run-progress-text')
  const state = document.getElementById('run-state')
  const source = new EventSource(bar.dataset.events)
  const show = (event) => {
    const p = JSON.parse(event.data)
    const finished = p.filesDone + p.filesFailed
    bar.max = Math.max(1, p.filesTotal)
    bar.value = finished
    if (text) text.textContent = `${finished} of ${p.filesTotal} files finished, ${p.filesFailed} failed`
    if (state) state.textContent = p.state
  }
  source.addEventListener('progress', show)
  source.addEventListener('end', (event) => {
    show(event)
    source.close()
    // The items table is server-rendered: a reload shows each file's outcome.
    window.location.reload()
  })
}

document.addEventListener('DOMContentLoaded', () => {
  for (const bar of document.querySelectorAll('progress[data-events]')) followRun(bar)
})
