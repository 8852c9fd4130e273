// The dev inbox updates itself: the server says "mail" when something arrives, the list is
// fetched again and rebuilt with text nodes only (a subject is never parsed as HTML).
const list = document.getElementById('inbox-list')
const empty = document.getElementById('inbox-empty')

async function refresh() {
  const response = await fetch('/dev/mail/messages', { headers: { accept: 'application/json' } })
  if (!response.ok) return
  const messages = await response.json()
  list.replaceChildren(
    ...messages.map((m) => {
      const item = document.createElement('li')
      const link = document.createElement('a')
      link.href = `/dev/mail/${m.id}`
      const subject = document.createElement('strong')
      subject.className = 'subject'
      subject.textContent = m.subject
      link.append(subject)
      const meta = document.createElement('span')
      meta.className = 'meta'
      meta.textContent = `to ${m.to.join(', ')} · ${m.date}`
      item.append(link, meta)
      return item
    }),
  )
  empty.hidden = messages.length > 0
}

new EventSource('/dev/mail/events').addEventListener('mail', () => void refresh())
