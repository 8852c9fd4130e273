// Follows the confirmation email's delivery on /auth/unconfirmed without a reload: polls the
// same page as JSON while the email is on its way or being retried.
const section = document.getElementById('delivery')
const correct = document.getElementById('correct-address')
const FINAL = new Set(['sent', 'failed'])

function show(id, text) {
  const element = document.getElementById(id)
  const target = element.querySelector('span') ?? element
  target.textContent = text ?? ''
  element.hidden = !text
}

async function poll() {
  try {
    const response = await fetch('/auth/unconfirmed', { headers: { accept: 'application/json' }, credentials: 'same-origin' })
    if (!response.ok) return
    const answer = await response.json()
    if (answer.confirmed) return location.assign('/')
    const { delivery } = answer
    section.dataset.state = delivery.state
    show('delivery-headline', delivery.headline)
    show('delivery-advice', delivery.advice)
    show('delivery-server', delivery.serverSaid)
    if (delivery.canCorrect) correct.hidden = false
  } catch {
    // Offline for a moment: the next poll tries again.
  }
}

const timer = setInterval(() => {
  if (FINAL.has(section.dataset.state)) clearInterval(timer)
  else void poll()
}, 2000)
