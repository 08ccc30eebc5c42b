"""Example 4: a VAE, step by step -- encoder, reparameterisation, ELBO, autograd.grad, Adam, a short run.

    python examples/04_vae_step_by_step.py [--quick] [--seed N] [--out DIR]

Every piece of a variational autoencoder, one cell at a time, with the NumPy/autograd
backend (`minirtc.backends.numpy_backend`):

    encoder        x (M, P) -> mu, logvar (M, D)            q(z|x) = N(mu, diag exp(logvar))
    reparam.       z = mu + exp(logvar / 2) * eps,  eps ~ N(0, I)
    decoder        z (M, D) -> logits (M, P)                 p(x|z) = Bernoulli(sigmoid(logits))
    ELBO           E_q[log p(x|z)] - KL(q(z|x) || N(0, I))   (docs/theory.md#objectives, model "vae")
    gradient       autograd.grad of -ELBO with respect to every weight
    Adam           m, v running moments, bias-corrected, one step per batch

then a short training run on a procedural dSprites subset whose loss falls.
No download and no torch: the data are rendered from the shapes' geometry.
"""

# %% Setup
import sys
import time

import autograd.numpy as anp
import numpy as np
from autograd import grad, value_and_grad
from autograd.misc import flatten

import minirtc
from minirtc import data
from minirtc.backends import numpy_backend as nb
from minirtc.experiments.figures import new_figure, save_figure
from minirtc.experiments.lesson import Lesson, lesson_args, single_threaded_blas
from minirtc.viz.animations import reconstruction_mosaic

args = lesson_args(__doc__.splitlines()[0])
single_threaded_blas()  # small matrices: one BLAS thread is faster than several fighting over the cores
rng = np.random.default_rng(args.seed)
num_items = 2_000 if args.quick else 5_000  # training images
num_steps = 120 if args.quick else 600  # Adam steps
log_every = 20 if args.quick else 50  # print the loss every this many steps
M, D, hidden = 64, 10, (128,)  # batch size, latents, encoder hidden widths (the decoder mirrors them)
lr, betas = 1e-3, (0.9, 0.999)  # Adam (a classroom learning rate: 10x the paper profile's, for short runs)
lesson = Lesson("04_vae_step_by_step")

# Classroom scale: 2x2 max-pooling turns the 64x64 sprites into 32x32 ones (a pooled pixel is on
# if any of its four is): each step is several times cheaper and the shapes stay recognisable.
dataset = data.load("dsprites-procedural", subset=num_items, seed=args.seed)
images64 = dataset.images(np.arange(len(dataset)))  # (N, 64, 64, 1) uint8 in {0, 1}
N, H, W, C = images64.shape
images = images64.reshape(N, H // 2, 2, W // 2, 2, C).max(axis=(2, 4))  # (N, 32, 32, 1)
P = int(np.prod(images.shape[1:]))  # pixels per image


def as_input(batch: np.ndarray) -> np.ndarray:
    """uint8 images (B, H, W, C) -> flat float32 vectors (B, P) in [0, 1]."""
    return data.to_unit_float(batch, dataset.pixel_max).reshape(len(batch), -1)


x = as_input(images[rng.choice(N, size=M, replace=False)])  # (M, P): one batch to dissect
print(
    f"Data: {N} procedural dSprites images, max-pooled from {H}x{W} to {images.shape[1]}x{images.shape[2]}"
    f" = {P} binary pixels."
)
print(f"A batch x has shape {x.shape}: M = {M} images, each flattened to P = {P} numbers in [0, 1].")

# %% The encoder: an MLP from pixels to the posterior's mean and log-variance
params = nb.init_vae(rng, P, hidden, D)  # {"encoder": {W0, b0, W1, b1}, "decoder": {...}}
for part, layers in params.items():
    shapes = ", ".join(f"{name} {layers[name].shape}" for name in layers)
    print(f"{part}: {shapes}")
mu, logvar = nb.encode(params, x)  # (M, D) each
print(
    f"\nThe encoder maps x {x.shape} to mu {mu.shape} and logvar {logvar.shape}:"
    " the posterior q(z|x) = N(mu, diag(sigma^2)) with sigma^2 = exp(logvar)."
    "\nPredicting log sigma^2 instead of sigma^2 keeps the variance positive with no constraint."
)

# %% Reparameterisation: a sample z that is a differentiable function of (mu, logvar)
eps = rng.standard_normal((M, D)).astype(np.float32)  # (M, D) the only randomness, drawn outside the model
z = nb.reparameterise(mu, logvar, eps)  # (M, D)  z = mu + sigma * eps
sigma = np.exp(0.5 * logvar)  # (M, D)
print(
    "\nz = mu + sigma * eps with eps ~ N(0, I): the noise is an input, so z is a smooth function of the"
    " weights and gradients flow through the sample (Kingma & Welling's reparameterisation trick)."
    f"\nCheck: max |(z - mu) / sigma - eps| = {np.max(np.abs((z - mu) / sigma - eps)):.1e}"
)

# %% The ELBO's two terms
logits = nb.decode(params, z)  # (M, P) Bernoulli logits
recon = minirtc.bernoulli_log_likelihood(x, logits)  # (M,)  log p(x|z), summed over pixels
kl = minirtc.kl_normal(mu, logvar)  # (M,)  0.5 * sum_k (mu_k^2 + sigma_k^2 - 1 - log sigma_k^2)
print(
    "\nELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z)), estimated with the one sample z per image:"
    "\n  reconstruction  log p(x|z) = sum_pixels [x log s(l) + (1 - x) log s(-l)], s = sigmoid, l = logits"
    "\n  KL, closed form             0.5 * sum_k (mu_k^2 + sigma_k^2 - 1 - log sigma_k^2)"
    f"\nBatch means before training: reconstruction {recon.mean():.1f} nats, KL {kl.mean():.2f} nats,"
    f" ELBO {np.mean(recon - kl):.1f} nats."
    f"\nAn untrained decoder is a coin toss per pixel: {P} * log 2 = {P * np.log(2):.0f} nats is the"
    " price of ignoring the image; a trained one should pay far less."
)

# Is the closed-form KL right?  Average log q(z|x) - log p(z) over many z ~ q(z|x) for one image.
num_mc = 20_000
z_mc = mu[0] + sigma[0] * rng.standard_normal((num_mc, D))  # (num_mc, D) samples of q(z|x_0)
log_ratio = (minirtc.log_normal(z_mc, mu[0], logvar[0]) - minirtc.log_standard_normal(z_mc)).sum(axis=1)
kl_mc, kl_se = float(log_ratio.mean()), float(log_ratio.std(ddof=1) / np.sqrt(num_mc))
print(f"KL of image 0: closed form {kl[0]:.4f}, Monte Carlo ({num_mc} samples) {kl_mc:.4f} +- {kl_se:.4f}.")
lesson.check(
    "closed-form KL equals its Monte Carlo estimate",
    abs(kl_mc - float(kl[0])) < 4 * kl_se + 1e-4,
    f"|{kl_mc:.4f} - {kl[0]:.4f}| vs 4 SE = {4 * kl_se:.4f}",
)


# %% The loss as a function of the weights: what autograd differentiates
def negative_elbo(params: dict, x: np.ndarray, eps: np.ndarray) -> float:
    """-ELBO averaged over the batch: the VAE's loss (docs/theory.md#objectives, model "vae")."""
    mu, logvar = nb.encode(params, x)  # (M, D) each
    z = nb.reparameterise(mu, logvar, eps)  # (M, D)
    logits = nb.decode(params, z)  # (M, P)
    recon = minirtc.bernoulli_log_likelihood(x, logits)  # (M,)
    kl = minirtc.kl_normal(mu, logvar)  # (M,)
    return -anp.mean(recon - kl)


loss = negative_elbo(params, x, eps)
core_loss, _ = minirtc.objective(minirtc.ObjectiveConfig(model="vae"), x, logits, mu, logvar, z, N)
print(f"\nloss = -ELBO = {loss:.3f}; the library's objective for model 'vae' gives {float(core_loss):.3f}.")
lesson.check(
    "the hand-written -ELBO equals minirtc.objective(model='vae')",
    abs(float(loss) - float(core_loss)) <= 1e-5 * abs(float(core_loss)),
    f"{float(loss):.4f} vs {float(core_loss):.4f}",
)

# %% autograd.grad: the gradient of the loss with respect to every weight
loss_grad = grad(negative_elbo)  # a function with negative_elbo's arguments, returning d loss / d params
g = loss_grad(params, x, eps)  # the same nested dict of arrays as params
for part, layers in g.items():
    norms = ", ".join(f"|d/d{name}| = {np.linalg.norm(layers[name]):.3g}" for name in layers)
    print(f"{part}: {norms}")

# Check it against a central finite difference along a random direction u (in float64):
#   d/dh loss(theta + h u) at h = 0  ~=  (loss(theta + h u) - loss(theta - h u)) / (2 h)  =  <grad, u>
# float64 throughout: in float32 the two losses would differ by rounding noise, not by h * <grad, u>.
params64 = {
    part: {name: w.astype(np.float64) for name, w in layers.items()} for part, layers in params.items()
}
theta64, unflatten64 = flatten(params64)  # every weight in one vector (num_weights,)
x64, eps64 = x.astype(np.float64), eps.astype(np.float64)
u = rng.standard_normal(theta64.shape)  # (num_weights,)
u /= np.linalg.norm(u)
h = 1e-5
loss_at = lambda t: negative_elbo(unflatten64(t), x64, eps64)  # noqa: E731
finite_difference = (loss_at(theta64 + h * u) - loss_at(theta64 - h * u)) / (2 * h)
directional = float(np.dot(flatten(loss_grad(params64, x64, eps64))[0], u))
grad_error = abs(finite_difference - directional) / max(abs(directional), 1e-12)
print(
    f"\n{theta64.size} weights in all. Along a random unit direction u: <grad, u> = {directional:.6f},"
    f" finite difference = {finite_difference:.6f} (relative error {grad_error:.1e})."
)
lesson.check(
    "autograd's gradient matches a central finite difference",
    grad_error < 1e-5,
    f"relative error {grad_error:.1e}",
)

# %% One Adam step, written out (Kingma & Ba 2015, Algorithm 1)
theta, unflatten = flatten(params)  # float32 weights (num_weights,) and the way back to the dict
g_flat = flatten(g)[0]  # (num_weights,)
b1, b2, adam_eps, t = betas[0], betas[1], 1e-8, 1
m = b1 * np.zeros_like(g_flat) + (1 - b1) * g_flat  # first moment: running mean of the gradient
v = b2 * np.zeros_like(g_flat) + (1 - b2) * g_flat**2  # second moment: running mean of its square
m_hat = m / (1 - b1**t)  # bias corrections: m and v start at zero and would
v_hat = v / (1 - b2**t)  # otherwise be too small for the first steps
theta_new = theta - lr * m_hat / (np.sqrt(v_hat) + adam_eps)  # per-weight step of size ~ lr
delta = theta_new - theta  # (num_weights,) this step
print(
    "\nAdam: m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  m^ = m / (1 - b1^t);  v^ = v / (1 - b2^t);"
    "\n      theta = theta - lr * m^ / (sqrt(v^) + eps)"
    f"\nAt t = 1, m^ = g and v^ = g^2, so every weight with a gradient moves by about lr = {lr:g}"
    f" whatever the gradient's size: median |step| = {np.median(np.abs(delta)):.2e},"
    f" max {np.max(np.abs(delta)):.2e}."
)

# The backend's adam_update folds the bias corrections into the step size, lr * sqrt(1 - b2^t) / (1 - b1^t),
# which rescales eps by sqrt(1 - b2^t); with eps rescaled the same way the two are the same formula.
state = nb.adam_init(params)
params_next, state = nb.adam_update(params, g, state, lr, betas, eps=adam_eps * np.sqrt(1 - b2**t))
adam_difference = float(np.max(np.abs(flatten(params_next)[0] - theta_new)))
loss_after = negative_elbo(unflatten(theta_new), x, eps)
print(
    f"The backend's nb.adam_update gives the same weights (max difference {adam_difference:.1e})."
    f"\nOn this batch (same eps) the loss goes from {loss:.2f} to {loss_after:.2f} in one step."
)
lesson.check(
    "the written-out Adam step equals nb.adam_update", adam_difference < 1e-6, f"{adam_difference:.1e}"
)
lesson.check(
    "one Adam step lowers the loss on its batch", loss_after < loss, f"{loss:.2f} -> {loss_after:.2f}"
)

# %% A short training run: the same step, on a fresh batch and fresh noise each time
loss_and_grad = value_and_grad(negative_elbo)
params = params_next  # continue from the step above (the state already counts t = 1)
losses = []  # -ELBO of each step's batch
logged = []  # (step, reconstruction, KL) on a fixed batch, every log_every steps
x_fixed = as_input(images[np.sort(rng.choice(N, size=256, replace=False))])  # (256, P) followed throughout
eps_fixed = rng.standard_normal((len(x_fixed), D)).astype(np.float32)
print(f"\nTraining: {num_steps} Adam steps, batches of {M}, lr {lr:g}.")
print(f"{'step':>6}{'-ELBO':>10}{'recon':>10}{'KL':>8}   (recon and KL: batch means on 256 fixed images)")
start = time.perf_counter()
for step in range(1, num_steps + 1):
    x_batch = as_input(images[np.sort(rng.choice(N, size=M, replace=False))])  # (M, P)
    eps_batch = rng.standard_normal((M, D)).astype(np.float32)  # (M, D)
    value, g = loss_and_grad(params, x_batch, eps_batch)
    params, state = nb.adam_update(params, g, state, lr, betas)
    losses.append(float(value))
    if step % log_every == 0 or step == 1:
        mu_f, logvar_f = nb.encode(params, x_fixed)
        logits_f = nb.decode(params, nb.reparameterise(mu_f, logvar_f, eps_fixed))
        recon_f = float(np.mean(minirtc.bernoulli_log_likelihood(x_fixed, logits_f)))
        kl_f = float(np.mean(minirtc.kl_normal(mu_f, logvar_f)))
        logged.append((step, recon_f, kl_f))
        print(f"{step:>6}{value:>10.1f}{recon_f:>10.1f}{kl_f:>8.2f}")
train_seconds = time.perf_counter() - start
window = max(num_steps // 10, 5)
first, last = float(np.mean(losses[:window])), float(np.mean(losses[-window:]))
print(
    f"\n{num_steps} steps in {train_seconds:.1f} s. Mean -ELBO over the first {window} steps: {first:.1f};"
    f" over the last {window}: {last:.1f} nats per image."
    "\nThe reconstruction term does all of the falling; the KL rises from about 0 as the encoder starts"
    " to use its latents: the price the ELBO pays for codes that say something about the image."
)
lesson.check(
    "the training loss falls (last steps below half the first)",
    last < 0.5 * first,
    f"{first:.1f} -> {last:.1f}",
)
lesson.numbers.update(
    {
        "num_items": N,
        "num_steps": num_steps,
        "kl_closed_form": float(kl[0]),
        "kl_monte_carlo": kl_mc,
        "grad_relative_error": grad_error,
        "adam_max_difference": adam_difference,
        "loss_before_step": float(loss),
        "loss_after_step": float(loss_after),
        "loss_first": first,
        "loss_last": last,
        "train_seconds": train_seconds,
    }
)

# %% Figure: the loss curve and what the decoder draws after training
fig, axes = new_figure(1, 2, 11.0, 3.8, width_ratios=[1.2, 1.0])
ax = axes[0, 0]
steps = np.arange(1, num_steps + 1)
smooth = np.convolve(losses, np.ones(window) / window, mode="valid")  # running mean over `window` steps
ax.plot(steps, losses, color="0.75", lw=0.8, label="-ELBO of each batch")
ax.plot(steps[window - 1 :], smooth, color="black", lw=1.6, label=f"running mean ({window} steps)")
logged_steps, logged_recon, logged_kl = (np.array(column) for column in zip(*logged))
ax.plot(logged_steps, -logged_recon, "o-", color="tab:blue", ms=3, label="-reconstruction (fixed images)")
ax.plot(logged_steps, logged_kl, "s-", color="tab:red", ms=3, label="KL (fixed images)")
ax.set_yscale("log")
ax.set_ylim(top=ax.get_ylim()[1] * 8)  # room for the legend above the curves
ax.set_xlabel("Adam step")
ax.set_ylabel("nats per image (log scale)")
ax.set_title("(a) the loss -ELBO = -reconstruction + KL falls")
ax.legend(loc="upper right", ncols=2)
ax = axes[0, 1]
shown = 6
mu_s, _ = nb.encode(params, x_fixed[:shown])
mean_images = 1.0 / (1.0 + np.exp(-nb.decode(params, mu_s)))  # (shown, P) decoder means at z = mu
side = images.shape[1]
picture = reconstruction_mosaic(  # the picture `minirtc show` and the live loggers draw
    x_fixed[:shown].reshape(shown, side, side, 1), mean_images.reshape(shown, side, side, 1), ""
)  # inputs above, decoder means at z = mu below
ax.imshow(picture)
ax.axis("off")
ax.set_title(f"(b) reconstructions after {num_steps} steps")
figure = save_figure(fig, args.out / "04_vae_step_by_step.png")
print(f"figure: {figure}")

# %% The claim this example teaches
sys.exit(lesson.finish(args.out))
