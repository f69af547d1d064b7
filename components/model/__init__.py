"""The colorization model and everything that shapes its data, in the order a photo meets them:

``lab`` (sRGB <-> Lab in TensorFlow ops) -> ``preprocessing`` (resize policy and scaling, shared by
Transform and serving) -> ``transform`` (Transform's ``preprocessing_fn``) -> ``augmentation`` ->
``network`` (the article's alpha / beta / fusion networks and the unet recipe) trained by ``trainer`` (``run_fn``) with
``losses`` and ``callbacks`` -> ``signatures`` and ``export`` (the served SavedModel).
"""
