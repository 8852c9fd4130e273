// Follows the confirmation email's delivery on /auth/unconfirmed without a reload: polls the
// same page as JSON, often while the state changes, less and less while it does not, and once a
// minute after it settled (sent or failed), to notice a confirmation made in another tab.
const section = document.getElementById('delivery')
const correct = document.getElementById('correct-address')
const SETTLED = new Set(['sent', 'failed'])
const BACK_OFF_MS = [2000, 2000, 2000, 5000, 5000, 15000, 30000, 60000]
let unchanged = 0

function show(id, text) {
  const element = document.getElementById(id)
  const target = element.querySelector('span') ?? element
  target.textContent = text ?? ''
  element.hidden = !text
}

function schedule() {
  const delay = SETTLED.has(section.dataset.state) ? 60000 : BACK_OFF_MS[Math.min(unchanged, BACK_OFF_MS.length - 1)]
  setTimeout(poll, delay)
}

async function poll() {
  try {
    const response = await fetch('/auth/unconfirmed', { headers: { accept: 'application/json' }, credentials: 'same-origin' })
    // Logged out (or otherwise refused): nothing more to follow.
    if (response.status === 401 || response.status === 403) return
    if (response.ok) {
      const answer = await response.json()
      if (answer.confirmed) return location.assign('/')
      const { delivery } = answer
      unchanged = delivery.state === section.dataset.state ? unchanged + 1 : 0
      section.dataset.state = delivery.state
      show('delivery-headline', delivery.headline)
      show('delivery-advice', delivery.advice)
      if (delivery.canCorrect) correct.hidden = false
    }
  } catch {
    // Offline for a moment: the next poll tries again.
  }
  schedule()
}

schedule()
